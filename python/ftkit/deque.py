"""ConcurrentDeque: a deque whose every operation is atomic, over libftkit's deque.

The C deque (deque.h) stores words and makes every operation linearizable
behind one short lock: pushes and pops at both ends, index get/set, insert,
remove of an exact word, rotate(n), reverse, a snapshot copy and clear.
Objects live in the deque's own *versioned* SlotTable (ftkit._keepalive):
threads read words they do not own (``d[i]``, iteration, ``in``, ``remove``),
so a reader that loaded a word checks the slot's generation after reading the
object and looks again if the word was released meanwhile. No reader ever
touches memory another thread freed, in C or in Python.

Compared with ft_utils' ConcurrentDeque, whose ``len``, indexing, ``in``,
iteration and ``remove`` walk nodes that concurrent pops free: here each of
these is one atomic C call (``len``, ``d[i]``) or works on one atomic
snapshot of the words (``in``, iteration, ``remove``, comparisons, repr), and
``rotate(n)`` is one atomic step instead of n pop/push pairs.

Interrupt safety: a pop whose caller is interrupted (KeyboardInterrupt or any
exception raised by a signal handler) right after the C pop returned puts the
item back at the end it came from, so the item is never lost: the C side
records, per thread, what the last pop delivered (ftk_deque_last_popped).
"""
from __future__ import annotations

import reprlib
import time
import types
from array import array
from collections import deque as _std_deque
from collections.abc import Iterable, Iterator, MutableSequence
from itertools import repeat
from typing import Any, Callable, Generic, TypeVar

from ._common import Native, as_int64, lib, release_handle, same
from ._keepalive import GEN as _GEN
from ._keepalive import INDEX_MASK as _M
from ._keepalive import WORD_MASK as _WM
from ._keepalive import _NONES, SlotTable, _consume, nones
from ._lib import BadHandleError, ffi, raise_status, status_error
from ._wait import check_timeout

__all__ = ["ConcurrentDeque", "EmptyDequeError"]

T = TypeVar("T")

#: Longest single wait inside C before returning to the interpreter (seconds);
#: the same slice as the queues use.
WAIT_SLICE = 0.05
_SLICE_NS = int(WAIT_SLICE * 1e9)

_BACK = lib.FTK_DEQUE_BACK
_FRONT = lib.FTK_DEQUE_FRONT
_UNBOUNDED = lib.FTK_DEQUE_UNBOUNDED
_EVICTED = lib.FTK_DEQUE_EVICTED
_OK = lib.FTK_OK
_EEMPTY = lib.FTK_EEMPTY
_ETIMEDOUT = lib.FTK_ETIMEDOUT
_ECLOSED = lib.FTK_ECLOSED
_EINTR = lib.FTK_EINTR
_EFULL = lib.FTK_EFULL
_ENOTFOUND = lib.FTK_ENOTFOUND
_EOVERFLOW = lib.FTK_EOVERFLOW
_EBADHANDLE = lib.FTK_EBADHANDLE
_NAME = "ConcurrentDeque"  # for status messages

_push_back = lib.ftk_deque_push_back
_push_front = lib.ftk_deque_push_front
_push_side = lib.ftk_deque_push
_push_many = lib.ftk_deque_push_many
_pop_back_v = lib.ftk_deque_pop_back_v
_pop_front_v = lib.ftk_deque_pop_front_v
_pop_v = lib.ftk_deque_pop_v
_get_v = lib.ftk_deque_get_v
_len = lib.ftk_deque_len
_evicted_v = lib.ftk_deque_evicted_v
_unpop_last = lib.ftk_deque_unpop_last
_push_range = lib.ftk_deque_push_range
_pop_runs_v = lib.ftk_deque_pop_runs_v
_RUNS_POOLED = 1024  # pop_many buffers up to this many words are reused
_NEG = 1 << 63       # a pop_runs count at or above this is negative
_TWO64 = 1 << 64
_last = lib.ftk_last_status
_from_buffer = ffi.from_buffer
_unpack = ffi.unpack
_NULL = ffi.NULL
_NOTHING: Any = object()
_EMPTY_MSG = "pop from an empty ConcurrentDeque"
_INDEX_MSG = "ConcurrentDeque index out of range"


class EmptyDequeError(IndexError, RuntimeError):
    """Pop from an empty ConcurrentDeque.

    Both an IndexError (what ``collections.deque`` raises, so code written for
    it keeps working) and a RuntimeError (what ft_utils' ConcurrentDeque
    raises, so code written for that keeps working).
    """


# -- helpers shared by the methods and the fast-path closures ----------------


def _closed() -> BaseException:
    return status_error(_EBADHANDLE, "", _NAME)


def _raise(st: int, what: str) -> None:
    """Raise for a failing status (never returns)."""
    if st == _ECLOSED or st == _EBADHANDLE:
        raise _closed()
    raise_status(st, what, _NAME)


def _release(slots: SlotTable, w: int) -> Any:
    """Release a word the caller owns; return its object."""
    i = w & _M
    objs = slots.objs
    obj = objs[i]
    slots.words[i] = (w + _GEN) & _WM
    objs[i] = None
    slots.free.append(i)
    return obj


def _release_words(slots: SlotTable, words: list) -> list:
    """Release words the caller owns, in C-speed loops; their objects."""
    return slots.release_many(words)


def _owned(slots: SlotTable, w: int) -> bool:
    """Whether word w is still unreleased (the caller holds it)."""
    return slots.words[w & _M] == w


def _push_evicted(slots: SlotTable, h: Any) -> None:
    """A push returned FTK_DEQUE_EVICTED: release the evicted word."""
    ev = _evicted_v(h)
    if ev and _owned(slots, ev):
        _release(slots, ev)


def _push_failed(slots: SlotTable, h: Any, i: int, st: int) -> None:
    """After a single push that did not return FTK_OK."""
    if st == _EVICTED:
        return _push_evicted(slots, h)
    slots.objs[i] = None
    slots.free.append(i)
    _raise(st, "append")


def _after_interrupted_push(slots: SlotTable, h: Any) -> None:
    """An exception arrived right after a C push returned: if that push
    evicted a word (bounded deque), release it now. The record may also be
    an older eviction, already released: its slot generation has moved on,
    so the check skips it."""
    try:
        ev = _evicted_v(h)
    except BaseException:  # noqa: BLE001 - a second interrupt: give up
        return
    if ev and _owned(slots, ev):
        _release(slots, ev)


def _decode_runs(pairs: list, n: int) -> list:
    """The first n words of pop_runs pairs (first, signed count), in pop order."""
    out: list = []
    for j in range(0, len(pairs), 2):
        a, c = pairs[j], pairs[j + 1]
        if c >= _NEG:
            out += range(a, a - (_TWO64 - c), -1)
        else:
            out += range(a, a + c)
        if len(out) >= n:
            break
    return out[:n]


def _drop_last(slots: SlotTable, h: Any, runs: Any) -> None:
    """ftk_deque_unpop_last could not give the interrupted pop's words back
    (a bounded deque filled up meanwhile, or it was closed): release them,
    as an eviction or a close would. ``runs``: the pop_runs array, or NULL
    for a single pop."""
    n = ffi.new("size_t *")
    wp = ffi.new("uint64_t *")
    if lib.ftk_deque_last_popped(h, wp, n) != _OK or n[0] == 0:
        return
    if n[0] == 1 or runs == _NULL:
        ws = [wp[0]]
    else:
        ws = _decode_runs(_unpack(runs, 2 * n[0]), n[0])
    for w in ws:
        if _owned(slots, w):
            _release(slots, w)


def _recover_pop_many(slots: SlotTable, h: Any, side: int, runs: Any, stage: int,
                      m2: Any, new_runs: list, singles: list, out: Any) -> None:
    """pop_many was interrupted. ``stage`` 0: no slot released yet: one C
    call gives the words back (``runs`` still holds them). 1: the words'
    generations were bumped; 2: the slots were cleared too: finish the
    release (the indices go back), then push the objects back where they
    came from (several calls: a second interrupt here can lose them)."""
    if stage == 0:
        try:
            st = _unpop_last(h, runs)
        except BaseException:  # a second interrupt: the call is idempotent
            st = _unpop_last(h, runs)
        if st:
            _drop_last(slots, h, runs)
        return
    if stage == 1:
        _consume(m2)
    slots.runs.extend(new_runs)
    slots.free.extend(singles)
    _extend(slots, h, side, list(reversed(out)))


def _deadline(timeout: Any) -> float:
    """The monotonic instant a wait of ``timeout`` seconds ends; checked as
    for every ftkit timeout (threading.Lock.acquire's rules)."""
    return time.monotonic() + float(check_timeout(timeout) or 0)


def _slice(deadline: float) -> int:
    left = deadline - time.monotonic()
    if left <= 0:
        return 0
    if left >= WAIT_SLICE:
        return _SLICE_NS
    return int(left * 1e9) + 1


def _pop_slow(h: Any, side: int, timeout: Any, st: int) -> int:
    """A non-waiting pop found nothing (status ``st``): raise, or wait up to
    ``timeout`` seconds for a word and return it (the caller takes the
    object: a word that reaches its frame is never lost; one that does not
    is in C's per-thread record, which the caller's handler gives back).
    Waits in slices of at most WAIT_SLICE in C (OS waits woken by pushes),
    so that signal handlers run in between."""
    if st != _EEMPTY:
        _raise(st, "pop")
    if timeout is None:
        raise EmptyDequeError(_EMPTY_MSG)
    deadline = _deadline(timeout)
    while True:
        ns = _slice(deadline)
        w = _pop_v(h, side, ns)
        if w:
            return w
        st = _last()
        if st == _ETIMEDOUT or st == _EEMPTY or st == _EINTR:
            if ns == 0 or time.monotonic() >= deadline:
                raise EmptyDequeError(_EMPTY_MSG)
            continue  # a slice ended: signal handlers ran in between
        _raise(st, "pop")


def _extend(slots: SlotTable, h: Any, side: int, items: list, bounded: bool = True) -> None:
    """Push a list of objects at ``side`` in one atomic C call.

    The objects go to a run of consecutive slots (one slice assignment) and
    their words are consecutive too (one generation for the run, above every
    index's current one), so C pushes a range of words: no per-item Python
    work, no array across the FFI. Without a free run: scattered slots
    pushed from an array."""
    n = len(items)
    if n == 0:
        return
    objs, words = slots.objs, slots.words
    first = -1
    calling = False
    ev: Any = _NULL
    nev: Any = _NULL
    try:
        first = slots.take_run(n)
        if first < 0:
            return _extend_scattered(slots, h, side, items)
        end = first + n
        objs[first:end] = items
        base = words[first]
        if words[end - 1] != base + n - 1:
            # Runs are born uniform (one generation: _grow_run, pop_many's
            # release, a failed extend) and split uniform, so this is only
            # a safety net: one generation above every index's own.
            base = (max(words[first:end]) & ~_M) | first
            words[first:end] = range(base, base + n)
        if bounded:
            ev = ffi.new("uint64_t[]", n)
            nev = ffi.new("size_t *")
        calling = True  # no interrupt can arrive between here and the call
        st = _push_range(h, side, base, n, ev, nev)
    except BaseException:
        if calling:  # the push ran: only evictions (bounded) are left over
            if bounded:
                _release_evicted(slots, ev, nev[0])
        elif first >= 0:  # it never ran: give the slots back
            objs[first:first + n] = nones(n)
            slots.release_run(first, n)
        raise
    if st == _OK:
        return
    if st == _EVICTED:
        return _release_evicted(slots, ev, nev[0])
    objs[first:first + n] = nones(n)
    slots.release_run(first, n)
    _raise(st, "extend")


def _extend_scattered(slots: SlotTable, h: Any, side: int, items: list) -> None:
    """_extend when no run of n free slots exists: n single slots."""
    n = len(items)
    idx = slots.take_indices(n)
    objs, words = slots.objs, slots.words
    calling = False
    ev: Any = None
    nev: Any = None
    try:
        _consume(map(objs.__setitem__, idx, items))
        # list first: array() from a list is several times faster than from
        # an iterator, and a buffer crosses the FFI faster than a list
        cbuf = _from_buffer("uint64_t[]", array("Q", list(map(words.__getitem__, idx))))
        ev = ffi.new("uint64_t[]", n)
        nev = ffi.new("size_t *")
        calling = True  # no interrupt can arrive between here and the call
        st = _push_many(h, side, cbuf, n, ev, nev)
    except BaseException:
        if calling:  # the push ran: only evictions (bounded) are left over
            _release_evicted(slots, ev, nev[0])
        else:  # it never ran: give the slots back
            _consume(map(objs.__setitem__, idx, repeat(None)))
            slots.free.extend(idx)
        raise
    if st == _OK:
        return
    if st == _EVICTED:
        return _release_evicted(slots, ev, nev[0])
    _consume(map(objs.__setitem__, idx, repeat(None)))
    slots.free.extend(idx)
    _raise(st, "extend")


def _release_evicted(slots: SlotTable, ev: Any, n: int) -> None:
    for w in _unpack(ev, n):
        if _owned(slots, w):
            _release(slots, w)


def _check_side_count(max_items: Any) -> int:
    if not isinstance(max_items, int) or isinstance(max_items, bool):
        raise TypeError(f"max_items must be an int, not {type(max_items).__name__}")
    if max_items < 0:
        raise ValueError("max_items must be >= 0")
    return int(max_items)


class ConcurrentDeque(Native, Generic[T]):
    """A deque safe under concurrent use: every operation is atomic.

    >>> d = ConcurrentDeque([1, 2, 3], maxlen=5)
    >>> d.append(4); d.appendleft(0); d.rotate(2)
    >>> d.pop(), d.popleft(), d[0], len(d), 2 in d
    (2, 3, 4, 3, False)

    The API of ``collections.deque`` and of ft_utils' ConcurrentDeque:
    ``append``, ``appendleft``, ``pop``, ``popleft``, ``extend``,
    ``extendleft``, ``clear``, ``remove``, ``rotate(n=1)``, ``len``, ``d[i]``
    (negative indices too), ``d[i] = x``, ``del d[i]``, ``insert``, ``count``,
    ``index``, ``reverse``, ``copy``, ``maxlen``, ``in``, iteration, ``+``,
    ``*``, comparisons and repr. Popping from an empty deque raises
    :class:`EmptyDequeError`, which is both an IndexError (collections.deque)
    and a RuntimeError (ft_utils).

    Atomicity: each method takes effect at one instant. ``extend`` and
    ``extendleft`` insert all their items at once (they first collect the
    iterable: an iterable that raises adds nothing); ``rotate(n)`` is one
    step. Iteration, ``in``, ``count``, ``index``, ``remove``, comparisons,
    ``copy`` and repr work on one atomic snapshot of the contents (see
    ``__iter__`` for exactly what iteration may miss).

    ``maxlen`` (None: unbounded) bounds the deque like collections.deque: an
    append to a full deque drops the item at the other end.

    More than collections.deque: ``pop(timeout=...)``/``popleft(timeout=...)``
    wait for an item; ``pop_many(n)``/``popleft_many(n)`` take up to n items
    in one atomic call; ``close()`` releases everything at once.
    """

    def __init__(self, iterable: Iterable[T] = (), maxlen: int | None = None) -> None:
        if maxlen is not None:
            if not isinstance(maxlen, int):
                index = getattr(type(maxlen), "__index__", None)
                if index is None:
                    raise TypeError(f"maxlen must be an integer or None, not "
                                    f"{type(maxlen).__name__}")
                maxlen = index(maxlen)
            maxlen = int(maxlen)  # type: ignore[arg-type]
            if maxlen < 0:
                raise ValueError("maxlen must be non-negative")
            if maxlen >= 2**63:
                raise OverflowError("maxlen is too large")
        if "_open" in self.__dict__:
            # __init__ called again on a live deque (as collections.deque
            # allows): start over with the new contents and bound
            self.close()
        self._maxlen = maxlen
        self._slots = SlotTable(versioned=True, capacity=64, tuples=True)
        self._run_bufs: list = []  # pop_many result buffers, reused
        # The owner cdata frees the C deque when its last reference goes:
        # the deque's, or a fast-path callable's (``pop = d.pop`` keeps the
        # C deque alive as a bound method keeps its instance); calls use
        # the plain copy (docs/design.md section 10).
        self._own(lib.ftk_deque_new, lib.ftk_deque_free,
                  _UNBOUNDED if maxlen is None else maxlen)
        self._open = True
        if type(iterable) is not tuple or iterable:
            self.extend(iterable)


    # -- lifetime -------------------------------------------------------------
    def close(self) -> None:
        """Release every item and free the C deque. Idempotent.

        Afterwards every method raises BadHandleError (a ValueError); a pop
        blocked in another thread wakes and raises it too.
        """
        if self.__dict__.pop("_open", None) is None:
            return  # closed before (or closing in another thread)
        # no push can slip in after the words we take; a bad handle: closed
        # already (through a view of this deque), nothing left to take
        if lib.ftk_deque_close(self._h) == 0:
            self._take_all()
        release_handle(self._owner)  # ftk_deque_free now; later calls: FTK_EBADHANDLE

    def __enter__(self) -> ConcurrentDeque[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    __class_getitem__: Any = classmethod(types.GenericAlias)

    # -- fast paths -----------------------------------------------------------
    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """Install append/appendleft/pop/popleft as closures over the deque's
        state (no attribute loads, no method binding; they do not reference
        self, so no cycle keeps the deque alive). A subclass that overrides
        one of them keeps its override."""
        cls = type(self)
        h, slots, owner = self._h, self._slots, self._owner
        objs, words, free, take_index = slots.objs, slots.words, slots.free, slots.take_index
        tups: Any = slots.tups  # (i,) per slot: see SlotTable.tups
        d = self.__dict__
        # word constants as the caller's own objects too (see thread_copy)
        mask, gen, wmask = fn(_M), fn(_GEN), fn(_WM)

        def make_append(push: Any, name: str) -> Callable[[Any], None]:
            def append(x: Any) -> None:
                try:
                    i = free.pop()
                except IndexError:
                    i = take_index()
                objs[i] = x
                try:
                    st = push(h, words[i])
                except BaseException:
                    _after_interrupted_push(slots, h)
                    raise
                if st:
                    _push_failed(slots, h, i, st)

            append.__doc__ = getattr(ConcurrentDeque, name).__doc__
            append.__name__ = name
            append._owner = owner  # type: ignore[attr-defined]  # keeps the C deque
            return append

        def make_pop(pop_v: Any, side: int, name: str) -> Callable[..., Any]:
            def pop(timeout: Any = None) -> Any:
                # Interrupt safety (docs/design.md section 10): a signal
                # handler runs only right after a call returns. Once ``w``
                # holds the word, nothing up to the return is a call (the
                # slot goes back with an in-place list extend); before that,
                # the word is in C's per-thread record and the handler gives
                # it back with one idempotent call.
                w = 0
                try:
                    w = pop_v(h)
                    if not w:
                        w = _pop_slow(h, side, timeout, _last())
                    i = w & mask
                    obj = objs[i]
                    words[i] = (w + gen) & wmask
                    objs[i] = None
                    fl = free
                    fl += tups[i]
                    return obj
                except BaseException:
                    if not w:
                        try:
                            st = _unpop_last(h, _NULL)
                        except BaseException:  # a second interrupt: idempotent
                            st = _unpop_last(h, _NULL)
                        if st:
                            _drop_last(slots, h, _NULL)
                    raise

            pop.__doc__ = getattr(ConcurrentDeque, name).__doc__
            pop.__name__ = name
            pop._owner = owner  # type: ignore[attr-defined]  # keeps the C deque
            return pop

        # ``fn``: the C functions themselves, or (views) this thread's copies
        if cls.append is ConcurrentDeque.append:
            d["append"] = make_append(fn(_push_back), "append")
        if cls.appendleft is ConcurrentDeque.appendleft:
            d["appendleft"] = make_append(fn(_push_front), "appendleft")
        if cls.pop is ConcurrentDeque.pop:
            d["pop"] = make_pop(fn(_pop_back_v), _BACK, "pop")
        if cls.popleft is ConcurrentDeque.popleft:
            d["popleft"] = make_pop(fn(_pop_front_v), _FRONT, "popleft")

    # -- the two ends -----------------------------------------------------------
    def _push(self, side: int, x: Any) -> None:
        slots, h = self._slots, self._h
        i = slots.take_index()
        slots.objs[i] = x
        try:
            st = _push_side(h, side, slots.words[i], _NULL)
        except BaseException:
            _after_interrupted_push(slots, h)
            raise
        if st:
            _push_failed(slots, h, i, st)

    def _pop(self, side: int, timeout: Any) -> Any:
        """pop/popleft for subclasses that call them through super() (the
        installed closures are this code with the state in cells)."""
        slots, h = self._slots, self._h
        objs, words, free = slots.objs, slots.words, slots.free
        tups: Any = slots.tups  # (i,) per slot: see SlotTable.tups
        w = 0
        try:
            w = (_pop_back_v if side == _BACK else _pop_front_v)(h)
            if not w:
                w = _pop_slow(h, side, timeout, _last())
            i = w & _M
            obj = objs[i]
            words[i] = (w + _GEN) & _WM
            objs[i] = None
            free += tups[i]
            return obj
        except BaseException:
            if not w:
                try:
                    st = _unpop_last(h, _NULL)
                except BaseException:
                    st = _unpop_last(h, _NULL)
                if st:
                    _drop_last(slots, h, _NULL)
            raise

    def append(self, x: T) -> None:
        """Add x to the right end (a full bounded deque drops its leftmost item)."""
        self._push(_BACK, x)

    def appendleft(self, x: T) -> None:
        """Add x to the left end (a full bounded deque drops its rightmost item)."""
        self._push(_FRONT, x)

    def pop(self, timeout: float | None = None) -> T:
        """Remove and return the rightmost item.

        Empty: raises EmptyDequeError at once (``timeout=None``, as
        collections.deque and ft_utils do), or waits up to ``timeout``
        seconds for an item (``float('inf')``: forever) and then raises it.
        """
        return self._pop(_BACK, timeout)

    def popleft(self, timeout: float | None = None) -> T:
        """Remove and return the leftmost item (``timeout`` as for ``pop``)."""
        return self._pop(_FRONT, timeout)

    def extend(self, iterable: Iterable[T]) -> None:
        """Add every item of iterable to the right end, in one atomic step
        (the iterable is collected first; if it raises, nothing is added)."""
        items = list(iterable)  # also a snapshot when iterable is self
        if len(items) == 1:
            return self._push(_BACK, items[0])
        _extend(self._slots, self._h, _BACK, items, self._maxlen is not None)

    def extendleft(self, iterable: Iterable[T]) -> None:
        """Add every item to the left end, in one atomic step; they end up in
        reverse order, as with collections.deque.extendleft."""
        items = list(iterable)
        if len(items) == 1:
            return self._push(_FRONT, items[0])
        _extend(self._slots, self._h, _FRONT, items, self._maxlen is not None)

    def _pop_many(self, side: int, max_items: Any, timeout: Any) -> list:
        if type(max_items) is not int:
            max_items = _check_side_count(max_items)
        elif max_items < 0:
            raise ValueError("max_items must be >= 0")
        if max_items == 0:
            return []
        h, slots = self._h, self._slots
        if max_items > 1024:
            # as many words as may be there (an array of max_items could be
            # absurdly large); more arriving meanwhile are left for later
            n = _len(h)
            if n < 0:
                _raise(n, "pop_many")
            size = min(max_items, max(n + 64, 1024))
        else:
            size = max_items
        bufs = self._run_bufs
        if size <= _RUNS_POOLED:
            try:  # a result buffer, reused: ffi.new costs more than the pop
                runs = bufs.pop()
            except IndexError:
                runs = ffi.new("uint64_t[]", 2 * _RUNS_POOLED)
        else:
            runs = ffi.new("uint64_t[]", 2 * size)
        objs, words, free, runs_l = slots.objs, slots.words, slots.free, slots.runs
        stage = 0
        m2: Any = None
        new_runs: list = []
        singles: list = []
        out: list = []
        try:
            k = _pop_runs_v(h, side, runs, size)
            if not k:
                st = _last()
                if st != _EEMPTY:
                    _raise(st, "pop_many")
                if timeout is None:
                    if size <= _RUNS_POOLED:
                        bufs += (runs,)
                    return []
                # Wait until there is a word: the wait pops one, gives it
                # back (same end, same place) and the batch pop runs again,
                # so the batch stays one atomic step.
                deadline = _deadline(timeout)
                while not k:
                    w = _pop_slow(h, side, max(0.0, deadline - time.monotonic()), st)
                    if _unpop_last(h, _NULL):  # no room to give it back: keep it
                        runs[0] = w
                        runs[1] = 1
                        k = 1
                    else:
                        k = _pop_runs_v(h, side, runs, size)
            pairs = _unpack(runs, 2 * k)
            # Objects out first (no change yet), and everything the release
            # needs computed before it starts.
            sls = []
            new_words = []
            clears = []
            for j in range(0, 2 * k, 2):
                a = pairs[j]
                c = pairs[j + 1]
                i = a & _M
                if c >= _NEG:  # a descending run: a, a-1, ...
                    c = _TWO64 - c
                    lo = i - c + 1
                    piece = objs[lo:i + 1]
                    piece.reverse()
                else:
                    lo = i
                    piece = objs[lo:lo + c]
                out += piece
                g = ((a >> 32) + 1) & _M
                sls.append(slice(lo, lo + c))
                new_words.append(range((g << 32) | lo, (g << 32) | (lo + c)))
                clears.append(_NONES[c] if c <= 256 else [None] * c)
                if c >= 2:
                    new_runs.append((lo, c))
                else:
                    singles.append(lo)
            m1 = map(words.__setitem__, sls, new_words)
            m2 = map(objs.__setitem__, sls, clears)
            # The release: ``stage`` (set before each step) tells the handler
            # how far it got; the steps after the last call are not calls.
            stage = 1
            _consume(m1)
            stage = 2
            _consume(m2)
            runs_l += new_runs
            free += singles
            if size <= _RUNS_POOLED:
                bufs += (runs,)
            return out
        except BaseException:
            _recover_pop_many(slots, h, side, runs, stage, m2, new_runs, singles, out)
            raise

    def pop_many(self, max_items: int, timeout: float | None = None) -> list[T]:
        """Remove up to ``max_items`` items from the right end in one atomic
        step; return them in pop order (rightmost first). Empty: returns []
        (``timeout=None``), or waits up to ``timeout`` seconds for the first
        item and raises EmptyDequeError if none came."""
        return self._pop_many(_BACK, max_items, timeout)

    def popleft_many(self, max_items: int, timeout: float | None = None) -> list[T]:
        """``pop_many`` from the left end (leftmost first)."""
        return self._pop_many(_FRONT, max_items, timeout)

    # -- size -------------------------------------------------------------------
    def __len__(self) -> int:
        n = _len(self._h)
        if n < 0:
            _raise(n, "len")
        return n

    def __bool__(self) -> bool:
        return self.__len__() > 0

    @property
    def maxlen(self) -> int | None:
        """The bound given at creation, or None."""
        return self._maxlen

    # -- snapshot-based reads ---------------------------------------------------
    def _words(self) -> list:
        """One atomic snapshot of the words, front to back."""
        h = self._h
        n = _len(h)
        if n < 0:
            _raise(n, "snapshot")
        got = ffi.new("size_t *")
        while True:
            size = n + 16 + (n >> 3)
            buf = ffi.new("uint64_t[]", size)
            st = lib.ftk_deque_snapshot(h, buf, size, got)
            if st == _OK:
                return _unpack(buf, got[0])
            if st != _EOVERFLOW:
                _raise(st, "snapshot")
            n = got[0]

    def _items(self) -> list:
        """The objects of one atomic snapshot, front to back, minus any whose
        word was released before we took a reference (removed meanwhile)."""
        ws = self._words()
        slots = self._slots
        idx = [w & _M for w in ws]
        objs = list(map(slots.objs.__getitem__, idx))  # objects first,
        now = list(map(slots.words.__getitem__, idx))  # then their words
        if now == ws:
            return objs
        return [o for o, w, v in zip(objs, ws, now) if w == v]

    def _entries(self) -> list:
        """(object, word) pairs of one snapshot, validated like _items."""
        ws = self._words()
        slots = self._slots
        idx = [w & _M for w in ws]
        objs = list(map(slots.objs.__getitem__, idx))
        now = list(map(slots.words.__getitem__, idx))
        return [(o, w) for o, w, v in zip(objs, ws, now) if w == v]

    def __iter__(self) -> Iterator[T]:
        """Iterate over one atomic snapshot of the deque, taken when
        iteration starts.

        Weakly consistent: it never raises because of concurrent changes and
        never yields an item twice. It yields, in order, the items that were
        in the deque at the instant of the snapshot, except any removed
        (popped, removed, cleared) in the few microseconds between the
        snapshot and the moment the iterator takes references to the items
        (right after the snapshot, before the first item is yielded); items
        added after the snapshot are not seen, and changes made while the
        loop runs do not affect it.
        """
        return iter(self._items())

    def __reversed__(self) -> Iterator[T]:
        return reversed(self._items())

    def __contains__(self, value: Any) -> bool:
        for o in self._items():
            if o is value or o == value:
                return True
        return False

    def count(self, value: Any) -> int:
        """Number of items equal to value (in one snapshot)."""
        return sum(1 for o in self._items() if o is value or o == value)

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """Position of the first item equal to value (in one snapshot)."""
        items = self._items()
        try:
            if stop is None:
                return items.index(value, start)
            return items.index(value, start, stop)
        except ValueError:
            raise ValueError(f"{value!r} is not in deque") from None

    def remove(self, value: T) -> None:
        """Remove the first item equal to value.

        Finds it in a snapshot with ``==`` (identity first), then removes that
        exact item in C if it is still there (else looks again). A raising
        ``__eq__`` propagates and changes nothing. ValueError if none is equal.
        """
        while True:
            for o, w in self._entries():
                if o is value or o == value:
                    st = lib.ftk_deque_remove_word(self._h, w)
                    if st == _OK:
                        _release(self._slots, w)
                        return
                    if st != _ENOTFOUND:
                        _raise(st, "remove")
                    break  # removed by another thread meanwhile: look again
            else:
                raise ValueError("ConcurrentDeque.remove(x): x not in ConcurrentDeque")

    # -- random access ------------------------------------------------------------
    @staticmethod
    def _index_arg(index: Any) -> int:
        if type(index) is not int:
            if isinstance(index, slice):
                raise TypeError("sequence index must be integer, not 'slice'")
            op = getattr(type(index), "__index__", None)
            if op is None:
                raise TypeError(f"sequence index must be integer, not "
                                f"'{type(index).__name__}'")
            index = int(op(index))
        return index

    def __getitem__(self, index: int) -> T:
        if type(index) is not int:
            index = self._index_arg(index)
        h, slots = self._h, self._slots
        while True:
            try:
                w = _get_v(h, index)
            except OverflowError:  # outside int64: out of range anyway
                raise IndexError(_INDEX_MSG) from None
            if w:
                i = w & _M
                obj = slots.objs[i]
                if slots.words[i] == w:
                    return obj
                continue  # released meanwhile (popped): read again
            st = _last()
            if st == _ENOTFOUND:
                raise IndexError(_INDEX_MSG)
            _raise(st, "getitem")

    def __setitem__(self, index: int, value: T) -> None:
        index = self._index_arg(index)
        if not -(2**63) <= index < 2**63:
            raise IndexError("ConcurrentDeque assignment index out of range")
        slots = self._slots
        i = slots.take_index()
        slots.objs[i] = value
        old = ffi.new("uint64_t *")
        st = lib.ftk_deque_set(self._h, index, slots.words[i], old)
        if st == _OK:
            _release(slots, old[0])
            return
        slots.objs[i] = None
        slots.free.append(i)
        if st == _ENOTFOUND:
            raise IndexError("ConcurrentDeque assignment index out of range")
        _raise(st, "setitem")

    def __delitem__(self, index: int) -> None:
        index = self._index_arg(index)
        if not -(2**63) <= index < 2**63:
            raise IndexError(_INDEX_MSG)
        w = ffi.new("uint64_t *")
        st = lib.ftk_deque_remove_at(self._h, index, w)
        if st == _OK:
            _release(self._slots, w[0])
            return
        if st == _ENOTFOUND:
            raise IndexError(_INDEX_MSG)
        _raise(st, "delitem")

    def insert(self, index: int, value: T) -> None:
        """Insert value before index (clamped like list.insert). IndexError
        if the deque is bounded and full, as collections.deque."""
        index = self._index_arg(index)
        index = max(-(2**63), min(index, 2**63 - 1))
        slots = self._slots
        i = slots.take_index()
        slots.objs[i] = value
        st = lib.ftk_deque_insert(self._h, index, slots.words[i])
        if st == _OK:
            return
        slots.objs[i] = None
        slots.free.append(i)
        if st == _EFULL:
            raise IndexError("deque already at its maximum size")
        _raise(st, "insert")

    # -- whole-deque operations ---------------------------------------------------
    def rotate(self, n: int = 1) -> None:
        """Rotate n steps to the right (n < 0: to the left), atomically."""
        st = lib.ftk_deque_rotate(self._h, as_int64(n, "n"))
        if st:
            _raise(st, "rotate")

    def reverse(self) -> None:
        """Reverse the items in place, atomically."""
        st = lib.ftk_deque_reverse(self._h)
        if st:
            _raise(st, "reverse")

    def _take_all(self) -> list:
        """Atomically remove every word (also after close); release them and
        return their objects."""
        h = self._h
        got = ffi.new("size_t *")
        n = _len(h)
        if n < 0:
            _raise(n, "clear")
        while True:
            size = n + 16 + (n >> 3)
            buf = ffi.new("uint64_t[]", size)
            st = lib.ftk_deque_clear(h, buf, size, got)
            if st == _OK:
                return _release_words(self._slots, _unpack(buf, got[0]))
            if st != _EOVERFLOW:
                _raise(st, "clear")
            n = got[0]

    def clear(self) -> None:
        """Remove every item, atomically."""
        self._take_all()

    def copy(self) -> ConcurrentDeque[T]:
        """A shallow copy (of one snapshot), with the same maxlen."""
        return type(self)(self._items(), maxlen=self._maxlen)

    __copy__ = copy

    # -- operators ------------------------------------------------------------------
    def __iadd__(self, other: Any) -> ConcurrentDeque[T]:
        self.extend(other)
        return self

    def __add__(self, other: Any) -> ConcurrentDeque[T]:
        if not isinstance(other, (ConcurrentDeque, _std_deque)):
            return NotImplemented
        return type(self)(self._items() + list(other), maxlen=self._maxlen)

    def __mul__(self, n: int) -> ConcurrentDeque[T]:
        if not isinstance(n, int):
            return NotImplemented
        return type(self)(self._items() * n, maxlen=self._maxlen)

    __rmul__ = __mul__

    def __imul__(self, n: int) -> ConcurrentDeque[T]:
        if not isinstance(n, int):
            return NotImplemented
        if n <= 0:
            self.clear()
        elif n > 1:
            self.extend(self._items() * (n - 1))
        return self

    # -- comparisons ------------------------------------------------------------------
    @staticmethod
    def _other_items(other: Any) -> list | None:
        if isinstance(other, ConcurrentDeque):
            return other._items()
        if isinstance(other, (_std_deque, list)):
            return list(other)
        return None

    def __eq__(self, other: object) -> bool:
        o = self._other_items(other)
        return NotImplemented if o is None else self._items() == o

    def __ne__(self, other: object) -> bool:
        o = self._other_items(other)
        return NotImplemented if o is None else self._items() != o

    def __lt__(self, other: Any) -> bool:
        o = self._other_items(other)
        return NotImplemented if o is None else self._items() < o

    def __le__(self, other: Any) -> bool:
        o = self._other_items(other)
        return NotImplemented if o is None else self._items() <= o

    def __gt__(self, other: Any) -> bool:
        o = self._other_items(other)
        return NotImplemented if o is None else self._items() > o

    def __ge__(self, other: Any) -> bool:
        o = self._other_items(other)
        return NotImplemented if o is None else self._items() >= o

    __hash__ = None  # type: ignore[assignment]  # mutable, like deque

    @reprlib.recursive_repr("[...]")
    def __repr__(self) -> str:
        try:
            items = self._items()
        except BadHandleError:
            return f"<{type(self).__name__} closed>"
        if self._maxlen is None:
            return f"{type(self).__name__}({items!r})"
        return f"{type(self).__name__}({items!r}, maxlen={self._maxlen})"


MutableSequence.register(ConcurrentDeque)
