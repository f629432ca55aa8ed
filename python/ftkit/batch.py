"""BatchExecutor: hand out what a source produces in batches, each value once.

``BatchExecutor(source, size)``: ``load()`` returns the next value of the
current batch; when the batch is exhausted, exactly one caller refills it by
calling ``source()`` ``size`` times (the others wait in C, asleep, not
spinning in Python) and every value is handed to exactly one caller, in the
order it was produced.

How (docs/design.md, "BatchExecutor"). libftkit's ``ftk_batch`` hands out
64-bit words; the values live in the executor's own keep-alive list, one
slot per value, and a word is a slot index. A refill takes a run of ``size``
slots, stores the values with one slice assignment and publishes the run
with one C call (``ftk_batch_fill_range``). ``load`` is a closure installed
per instance: one C call (``ftk_batch_load_v``, a lock-free claim), a read
and a clear of the slot in the common case. Slots are reused a whole run at
a time by the refiller, once every value of the run was read (see _State).

Failures and interrupts:

* ``source()`` raising an ``Exception``: the refilling caller gets it; the
  values of the partial batch are released; the executor is failed for good
  and every later ``load()`` (and every ``load()`` waiting for that refill)
  raises ``RuntimeError`` whose ``__cause__`` is the original exception.
* A ``KeyboardInterrupt`` (or another ``BaseException`` that is not an
  ``Exception``) while refilling: the values produced so far are published
  as a shorter batch (or, if there are none, the refill role is handed back
  so the next caller refills), then it propagates. Nothing is lost, nothing
  is handed out twice, the executor keeps working.
* A ``KeyboardInterrupt`` landing in ``load()`` after C handed it a value
  but before the value reached the caller: the value is given back to the
  executor (``ftk_batch_unload_last``) and handed out by a later ``load()``.
* ``source()`` calling ``load()`` on the executor it is refilling raises
  ``RuntimeError`` (C tells the refilling thread apart) instead of waiting
  for itself forever.
"""
from __future__ import annotations

import threading
from _thread import get_ident
from _thread import _local as _thread_local
from itertools import repeat, starmap
from typing import Any, Callable, Generic, TypeVar

from ._common import Native, local_view, release_handle, same, thread_copy
from ._keepalive import nones
from ._lib import BadHandleError, ffi, lib, raise_status
from ._wait import SLICE_NS
from .local import LocalWrapper

__all__ = ["BatchExecutor"]

T = TypeVar("T")

_load_v = lib.ftk_batch_load_v
_load_timed_v = lib.ftk_batch_load_timed_v
_fill_range = lib.ftk_batch_fill_range
_abandon = lib.ftk_batch_abandon
_fail = lib.ftk_batch_fail
_unload_last = lib.ftk_batch_unload_last
_last = lib.ftk_last_status
_take_many = lib.ftk_batch_take_many
_give_back_words = lib.ftk_batch_give_back
_is_refiller = lib.ftk_batch_is_refiller
_NULL = ffi.NULL

_OK = lib.FTK_OK
_REFILL = lib.FTK_BATCH_REFILL
_EBUSY = lib.FTK_EBUSY
_ETIMEDOUT = lib.FTK_ETIMEDOUT
_EINTR = lib.FTK_EINTR
_ECLOSED = lib.FTK_ECLOSED
_EBADHANDLE = lib.FTK_EBADHANDLE
_EPERM = lib.FTK_EPERM
_WAIT_AGAIN = (_EBUSY, _ETIMEDOUT, _EINTR)

#: Largest batch size libftkit accepts (2**27 - 1).
MAX_SIZE: int = lib.FTK_BATCH_MAX_SIZE

#: Most values a ``local()`` view claims at once (it claims
#: ``min(size, VIEW_CHUNK)``; docs/performance.md, "BatchExecutor", has the
#: measurements behind 32).
VIEW_CHUNK: int = 32

_CLOSE_LOCK = threading.Lock()


class _State:
    """What an executor and its views share besides the C object.

    Keep-alive (docs/design.md, "BatchExecutor"): ``objs`` holds the values
    of the published batch, one slot each (a word is a slot index; index 0
    is never used). A batch occupies a *run* of ``size`` consecutive slots.
    The loader that claimed a word reads its slot and clears it (stores
    None); a value that is None itself is stored as ``_NONE`` so that a
    None slot always means "read by its claimer". Runs are taken under
    ``lock`` (by the refiller, one thread at a time: C's refill role orders
    them, and by views giving values back), and the taker stores its values
    before it releases the lock: a run is free when all its slots are None
    (all its values were read: no reader can still be about to read one),
    else a new run is appended. A run still holding a value (a loader
    between its claim and its read, or a word given back) waits in ``busy``
    and is checked again at the next take. Views give back at most
    ``VIEW_CHUNK - 1`` values at a time: they take *short* runs of
    ``min(size, VIEW_CHUNK)`` slots from pools of their own (``free_short``,
    ``busy_short``), so a huge ``size`` does not cost a huge run per
    give-back.
    """

    __slots__ = ("error", "closed", "objs", "free_runs", "busy", "free_short", "busy_short",
                 "size", "lock", "marked")

    def __init__(self, size: int) -> None:
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        # some run ever held _NONE (views then translate their chunks)
        self.marked = False
        self.closed = False
        self.size = size
        self.objs: list[Any] = [None]
        self.free_runs: list[int] = []
        self.busy: list[int] = []
        self.free_short: list[int] = []
        self.busy_short: list[int] = []

    def take_run(self, short: bool = False) -> int:
        """First slot of a free run of ``size`` slots (``short``: of
        ``min(size, VIEW_CHUNK)`` slots). The caller holds ``lock``.

        Interrupt-safe: a KeyboardInterrupt can land after any call here,
        so the lists change only through statements that are not calls
        (slice and in-place assignments, ``del``): a run is never listed
        twice (which would let two batches share it). An interrupt can at
        worst forget a run of empty slots (memory, not values)."""
        objs = self.objs
        if short:
            size, busy, free = min(self.size, VIEW_CHUNK), self.busy_short, self.free_short
        else:
            size, busy, free = self.size, self.busy, self.free_runs
        if busy:
            # C-speed scan; None everywhere = every value was read
            done = [f for f in busy if objs[f:f + size].count(None) == size]
            if done:
                keep = [f for f in busy if f not in done]
                busy[:] = keep
                free += done
        if free:
            first = free[-1]
            del free[-1]
        else:
            first = len(objs)
            objs.extend(nones(size))
        busy += (first,)  # until proven read
        return first

    def release_run(self, first: int, k: int) -> None:
        """Values C refused (closed meanwhile): drop them."""
        self.objs[first:first + k] = nones(k)


_NONE: Any = type("_NoneValue", (), {"__repr__": lambda self: "None (stored)"})()


def _closed_error(state: _State) -> BaseException:
    err = state.error
    if err is not None and not state.closed:
        exc = RuntimeError(
            f"BatchExecutor is shut down: its source raised {type(err).__name__}: {err}")
        exc.__cause__ = err
        return exc
    return BadHandleError(_EBADHANDLE, "the BatchExecutor was closed")


# -- the refill (the caller holds the role) -------------------------------------------

def _publish(h: Any, state: _State, vals: list, first: int) -> int:
    """The interrupt path: store vals in a run (``first`` < 0: take one)
    and publish them as the batch, unless the interrupted refill already
    published (C says whether this thread still holds the role: storing
    again after a fill would overwrite slots that loaders cleared and a
    later refill may already reuse). Returns the fill's status."""
    if lib.ftk_batch_is_refiller(h) != 1:
        # Published already, or closed meanwhile (a fill refused by a close
        # that the interrupt hid leaves its values in their run until the
        # executor is collected: documented limit).
        return _EPERM
    k = len(vals)
    with state.lock:  # stored under the lock: an all-None run is free to take
        if first < 0:
            first = state.take_run()
        state.objs[first:first + k] = vals
    st = _fill_range(h, first, k, _NULL)
    if st and st != _EPERM:  # refused (closed): the values are ours to drop
        state.release_run(first, k)
    return st


def _refill(h: Any, source: Any, state: _State) -> None:
    """Produce a batch with ``source`` and publish it. The caller holds the
    refill role; every path out of here ends it (fill, abandon or fail)."""
    vals: list = []
    first = -1
    failed = False
    try:
        try:
            # C-speed loop; extend keeps what it appended if source raises
            vals.extend(starmap(source, repeat((), state.size)))
        except Exception as exc:
            failed = True
            vals.clear()  # release the partial batch
            state.error = exc  # before _fail: waiters read it after C wakes them
            _fail(h)
            raise
        if None in vals:  # None marks a read slot: store None values as _NONE
            vals = [_NONE if v is None else v for v in vals]
            state.marked = True
        k = len(vals)
        with state.lock:  # stored under the lock: an all-None run is free to take
            first = state.take_run()
            state.objs[first:first + k] = vals
        st = _fill_range(h, first, k, _NULL)
        if st:
            failed = True  # nothing left to publish
            state.release_run(first, k)
            vals.clear()  # the exception's traceback must not keep them alive
            if st in (_ECLOSED, _EBADHANDLE):
                raise _closed_error(state)
            raise_status(st, "refill", "BatchExecutor")
    except BaseException:
        if not failed:
            # Interrupted (KeyboardInterrupt...): publish what was produced,
            # or hand the role back; the executor keeps working.
            if vals and None in vals:
                vals = [_NONE if v is None else v for v in vals]
                state.marked = True
            for _ in range(3):  # a second interrupt here: retry (each step is idempotent)
                try:
                    if vals:
                        _publish(h, state, vals, first)
                    elif lib.ftk_batch_is_refiller(h) == 1:
                        _abandon(h)
                    break
                except BaseException:
                    pass
            vals = []  # published: the traceback must not keep them alive
        raise


# -- loads ---------------------------------------------------------------------------------

def _next_word(h: Any, source: Any, state: _State) -> int:
    """The slow path of load (the batch is exhausted or being refilled):
    returns a word this thread claimed (C records it for unload_last), or
    raises. Waits in slices (signal handlers run in between)."""
    st = _last()
    while True:
        if st == _REFILL:
            _refill(h, source, state)
            w = _load_v(h)
            if w:
                return w
            st = _last()
        elif st in _WAIT_AGAIN:
            w = _load_timed_v(h, SLICE_NS)  # value style: records REFILL for the handler
            if w:
                return w
            st = _last()
        elif st == _ECLOSED or st == _EBADHANDLE:
            raise _closed_error(state)
        elif st == _EPERM:
            raise RuntimeError("BatchExecutor.load() called from the source() that is refilling "
                               "the same executor (it would wait for itself)")
        else:
            raise_status(st, "load", "BatchExecutor")


def _give_back(h: Any, state: _State) -> None:
    """An interrupted load's claimed word that never reached its frame: back
    to the executor, or its value dropped if the executor is closed or
    failed (the close would have dropped it too)."""
    out = ffi.new("uint64_t *")
    st = _unload_last(h, out)
    if st == _ECLOSED or st == lib.FTK_ENOMEM:
        state.objs[out[0]] = None


def _load_fn(owner: Any, h: Any, source: Any, state: _State, load_v: Any) -> Callable[[], Any]:
    objs = state.objs  # closure cells: cheaper than module globals on 3.13t
    none_marker = _NONE

    def load() -> Any:
        """BatchExecutor.load. Once ``w`` holds the word nothing before the
        return is a call (no signal handler can run); before that the word
        is in C's per-thread record, and the handler gives it back."""
        w = 0
        try:
            w = load_v(h)
            if not w:
                w = _next_word(h, source, state)
            obj = objs[w]
            objs[w] = None  # read: the refiller may reuse the slot
            if obj is none_marker:
                return None
            return obj
        except BaseException:
            if not w:
                try:
                    _give_back(h, state)
                except BaseException:  # a second interrupt: the give-back is idempotent
                    _give_back(h, state)
                if _last() == _REFILL:
                    # Interrupted after a claim took the refill role and before
                    # _refill (which ends it on every path) began: hand it back.
                    # C refuses (EPERM) if this thread no longer holds it.
                    try:
                        _abandon(h)
                    except BaseException:  # a second interrupt: idempotent
                        _abandon(h)
            raise

    load._owner = owner  # type: ignore[attr-defined]  # keeps the C object alive
    return load


# -- thread-owned views: a prefetching load --------------------------------------------------

_EMPTY_IT: Any = iter(())


class _Held:
    """The values a view claimed and has not handed out yet, seen from
    outside its load closure (through the closure's cells, so no reference
    cycle). It lives in a ``threading.local`` of the view, set by the thread
    that made the view: it dies, and gives the values back, when that thread
    ends or when the view's load is collected, whichever comes first;
    ``close()`` of the view in its thread gives them back at once.

    Giving back (``ftk_batch_give_back``) needs slots: the view read and
    cleared the values' own slots when it claimed them (a refill may have
    reused them since), so they go into a fresh short run first."""

    __slots__ = ("owner", "h", "state", "it", "chunk", "words", "pending", "__weakref__")

    def __init__(self, owner: Any, h: Any, state: _State, it: Any, chunk: Any, k: int) -> None:
        self.owner = owner  # keeps the C object alive until the values are back
        self.h = h
        self.state = state
        self.it = it  # the closure's cells
        self.chunk = chunk
        self.words = ffi.new("uint64_t[]", k)
        self.pending = (0, 0)  # a run holding copies of the values, not given back yet

    def release(self) -> None:
        """Give the held values back; a KeyboardInterrupt meanwhile is
        re-raised after the values are back (or released)."""
        err: BaseException | None = None
        for _ in range(3):
            try:
                self._release()
                break
            except BaseException as exc:  # an interrupt: retry (each step is idempotent)
                err = exc
        if err is not None:
            raise err

    def _release(self) -> None:
        state, objs = self.state, self.state.objs
        first, n = self.pending
        if n:  # an interrupted attempt stored copies: drop them
            objs[first:first + n] = nones(n)
            self.pending = (0, 0)
        rem = self.it.cell_contents.__length_hint__()
        if not rem:
            return
        chunk = self.chunk.cell_contents
        vals = chunk[len(chunk) - rem:]  # production order; the view still holds them
        n = len(vals)
        if state.marked and None in vals:
            vals = [_NONE if v is None else v for v in vals]
        words = self.words
        with state.lock:
            first = state.take_run(short=True)
            self.pending = (first, n)
            # still under the lock: a run whose slots are all None is free for
            # the next take_run; and before the C call: claimers read them after it
            objs[first:first + n] = vals
        for i in range(n):
            words[i] = first + i
        # from here to the C call: no call (the view stops holding them and
        # C gets them at once)
        self.pending = (0, 0)
        self.it.cell_contents = _EMPTY_IT
        self.chunk.cell_contents = []
        st = _give_back_words(self.h, words, n)
        if st:  # closed or failed meanwhile (or no memory): release them
            objs[first:first + n] = nones(n)

    def __del__(self) -> None:
        try:
            self.release()
        except BaseException:  # interpreter shutdown: nothing left to give back to
            pass


def _view_undo(h: Any, state: _State, out: Any, got: Any) -> None:
    """The view's interrupt handler: words claimed and not delivered go back
    (their slots are intact), and a refill role taken and not begun is
    handed back. Idempotent: a second interrupt retries it."""
    for _ in range(3):
        try:
            n = got[0]
            if n:
                got[0] = 0  # before the call: a retry must not give them back twice
                st = _give_back_words(h, out, n)
                if st:  # closed or failed: release them (the words are consecutive)
                    w0 = out[0]
                    state.objs[w0:w0 + n] = nones(n)
            else:
                _give_back(h, state)  # the one word a waiting claim took, if any
            if _is_refiller(h) == 1:
                _abandon(h)
            return
        except BaseException:
            pass


def _view_load_fn(owner: Any, h: Any, source: Any, state: _State, k: int) -> Callable[[], Any]:
    """The load of a ``local()`` view: hands out values this view claimed
    up to ``k`` at a time, from a list only it touches, in production order.

    The fast path is one ``for`` step over a list iterator (FOR_ITER: the
    interpreter runs no signal handler between taking the value and the
    return; after a call such as ``list.pop()`` it may, and the value would
    be lost). When the chunk is exhausted, ``slow`` claims up to k
    consecutive words with one ``ftk_batch_take_many`` into ``out`` (``got``
    says how many: the interrupt handler gives them back while their slots
    are intact), copies their values with one slice, and then, with no call
    in between, clears their slots, forgets ``got`` and installs the new
    chunk and its iterator. The chunk keeps the values it handed out
    referenced until the view's next load after its last one (ft_utils
    keeps a whole batch until the next refill)."""
    objs = state.objs
    take_many = thread_copy(_take_many)  # made by the view's thread (ftkit._common)
    out = ffi.new("uint64_t[]", k)
    got = ffi.new("size_t *")
    nones_k = [None] * k
    none_marker = _NONE
    me = get_ident()
    it: Any = _EMPTY_IT
    chunk: list = []
    busy = False  # slow is running in this thread (re-entered: see slow)
    single = _load_fn(owner, h, source, state, thread_copy(_load_v))

    def load() -> Any:
        """BatchExecutor.load through a view (see _view_load_fn)."""
        for obj in it:
            return obj
        return slow()

    def slow() -> Any:
        nonlocal it, chunk, busy
        if get_ident() != me:
            raise RuntimeError(
                "this BatchExecutor view belongs to the thread that made it; call "
                "local() in each thread (a view's prefetched values are not shared)")
        if busy:
            # Re-entered from code that runs inside this slow path (a value's
            # __del__, a collection): one claim the executor's way, so that
            # no chunk is installed under the outer call (it would be dropped)
            return single()
        busy = True
        try:
            # all handed out (the iterator is exhausted): let them go now (on
            # 3.13t an exhausted list iterator still holds its list)
            it = _EMPTY_IT
            chunk = []
            return claim()
        finally:
            busy = False

    def claim() -> Any:
        nonlocal it, chunk
        w = 0
        try:
            while True:
                st = take_many(h, out, k, got)
                n = got[0]
                if n:
                    w0 = out[0]  # the words are w0 .. w0 + n - 1 (one run)
                    vals = objs[w0:w0 + n]
                    if state.marked:
                        vals = [None if v is none_marker else v for v in vals]
                    new_it = iter(vals)
                    # from here to the return: no call
                    objs[w0:w0 + n] = nones_k[:n]
                    got[0] = 0
                    chunk = vals
                    it = new_it
                    for obj in new_it:
                        return obj
                if st == _REFILL:
                    _refill(h, source, state)
                    continue
                if st == _EBUSY:  # another thread refills: wait for one value
                    w = _load_timed_v(h, SLICE_NS)
                    if w:
                        obj = objs[w]
                        objs[w] = None
                        return None if obj is none_marker else obj
                    st = _last()
                    if st == _REFILL:
                        _refill(h, source, state)
                        continue
                    if st in _WAIT_AGAIN:
                        continue
                if st == _ECLOSED or st == _EBADHANDLE:
                    raise _closed_error(state)
                if st == _EPERM:
                    raise RuntimeError("BatchExecutor.load() called from the source() that is "
                                       "refilling the same executor (it would wait for itself)")
                raise_status(st, "load", "BatchExecutor")
        except BaseException:
            if not w:
                _view_undo(h, state, out, got)
            raise

    cells = dict(zip(slow.__code__.co_freevars, slow.__closure__ or ()))
    held = _Held(owner, h, state, cells["it"], cells["chunk"], k)
    keep = _thread_local()
    keep.held = held  # this thread's: dies with the thread or with keep
    load._owner = owner  # type: ignore[attr-defined]  # keeps the C object alive
    load._keep = keep  # type: ignore[attr-defined]
    return load


class BatchExecutor(Native, Generic[T]):
    """Hand out the values of ``source()`` in batches of ``size``.

    >>> from itertools import count
    >>> ex = BatchExecutor(count().__next__, 4)
    >>> [ex.load() for _ in range(6)]
    [0, 1, 2, 3, 4, 5]

    ``load()`` from any thread returns the next value; each value goes to
    exactly one caller, in production order. When the batch is exhausted one
    caller refills it (``size`` calls of ``source()``) while the others wait.
    If ``source()`` raises, that caller gets the exception and every later
    ``load()`` raises RuntimeError (its ``__cause__`` is the original error).
    ``local()`` returns a view for the calling thread whose ``load()``
    prefetches (claims up to ``VIEW_CHUNK`` values at once: the fast way to
    load from one thread); ``as_local()`` is ``LocalWrapper(self)``, whose
    calls go through such a view.
    """

    _h: Any
    _owner: Any

    def __init__(self, source: Callable[[], T], size: int) -> None:
        if not callable(source):
            raise TypeError("source must be callable")
        if not isinstance(size, int):
            raise TypeError(f"size must be an integer, not {type(size).__name__}")
        if size < 1:
            raise ValueError("size must be positive")
        if size > MAX_SIZE:
            raise OverflowError(f"size {size} is larger than the largest batch ({MAX_SIZE})")
        size = int(size)  # bool and int subclasses as plain ints
        d = self.__dict__
        d["_source"] = source
        d["_size"] = size
        d["_state"] = _State(size)
        self._own(lib.ftk_batch_new, lib.ftk_batch_free, size)

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """load as a closure over this instance's own handle cdata and ``fn``
        of the C claim (also run by local_view for a view, with thread_copy).
        A subclass that overrides load keeps it."""
        d = self.__dict__
        if type(self).load is BatchExecutor.load:
            d["load"] = _load_fn(d["_owner"], d["_h"], d["_source"], d["_state"], fn(_load_v))

    def load(self) -> T:  # type: ignore[no-redef]  # replaced per instance
        """The next value (see the class doc). Raises RuntimeError once the
        executor failed, BadHandleError (a ValueError) once it was closed,
        and RuntimeError if called from its own ``source()`` during a
        refill."""
        return self.__dict__["load"]()  # pragma: no cover (instances have it)

    @property
    def source(self) -> Callable[[], T]:
        """The callable that produces the values."""
        return self.__dict__["_source"]

    @property
    def size(self) -> int:
        """Values per batch."""
        return self.__dict__["_size"]

    def available(self) -> int:
        """Values that can be loaded now without a refill (racy by nature:
        exact at one instant during the call)."""
        out = ffi.new("size_t *")
        st = lib.ftk_batch_available(self._h, out)
        if st:
            raise_status(st, "available", "BatchExecutor")
        return int(out[0])

    def failed(self) -> bool:
        """Whether ``source()`` raised and the executor is shut down."""
        return self.__dict__["_state"].error is not None

    def local(self) -> "BatchExecutor[T]":
        """A view for the calling thread that prefetches: its ``load()``
        claims up to ``min(size, VIEW_CHUNK)`` values at once and hands them
        out one per call from a list only this view touches (no C call in
        between). Each value still goes to exactly one caller; the values a
        view hands out are in production order. What it holds back: at most
        ``VIEW_CHUNK - 1`` claimed values that other threads cannot load
        until this view hands them out or gives them back (when the view is
        closed or collected, or its thread ends). Use it only in the thread
        that made it (another thread's ``load()`` through it raises
        RuntimeError when it would claim). Other methods as the executor's;
        ``close()`` closes the executor."""
        view = local_view(self)
        view._install_view_load()
        return view

    def _install_view_load(self) -> None:
        d = self.__dict__
        if type(self).load is BatchExecutor.load:
            d["load"] = _view_load_fn(d["_owner"], d["_h"], d["_source"], d["_state"],
                                      min(d["_size"], VIEW_CHUNK))

    def as_local(self) -> LocalWrapper:
        """``LocalWrapper(self)`` (ft_utils' API): its calls go through a
        view the calling thread makes (``local()``), so its ``load``
        prefetches."""
        return LocalWrapper(self)


    def close(self) -> None:
        """Close now: release the values still buffered and free the C
        object. Idempotent. Afterwards ``load()`` raises BadHandleError (a
        ValueError); a ``load()`` waiting for a refill in another thread
        wakes and raises it; a refill running in another thread cannot
        publish (its values are released). Values other threads already
        loaded stay theirs."""
        d = self.__dict__
        load = d.get("load")
        held = getattr(getattr(load, "_keep", None), "held", None)  # a view, in its thread
        if held is not None:
            held.release()  # given back, then dropped by the close below
        with _CLOSE_LOCK:
            state = d["_state"]
            if state.closed:
                return
            state.closed = True
            h, objs = d["_h"], state.objs
            try:
                if lib.ftk_batch_close(h) == _OK:
                    buf = ffi.new("uint64_t[]", 256)
                    got = ffi.new("size_t *")
                    while lib.ftk_batch_drain(h, buf, 256, got) == _OK and got[0]:
                        for w in ffi.unpack(buf, got[0]):
                            objs[w] = None
            finally:
                release_handle(d["_owner"])

    def __enter__(self) -> "BatchExecutor[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        d = self.__dict__
        state = d["_state"]
        what = "closed" if state.closed else "failed" if state.error is not None else "open"
        return f"<{type(self).__name__} size={d['_size']} {what} source={d['_source']!r}>"

