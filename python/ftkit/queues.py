"""ConcurrentQueue and StdConcurrentQueue over libftkit's MPMC queue.

The C queue stores slot words (indices into the queue's own unversioned
SlotTable, see ftkit._keepalive); the objects live in that table. Each word
has exactly one owner at a time (the pusher, the queue, then the popper), so
no generation check is needed.

Blocking calls wait in slices (ftkit._wait): Ctrl-C interrupts a blocked
``pop``/``get``/``put``/``join`` with or without the GIL.

Interrupts (docs/design.md section 10). CPython runs signal handlers right
after a call returns, so a KeyboardInterrupt can arrive after a pop took its
word out of C and before the object reached the caller. Every pop therefore
runs from the C call to its ``return`` in one frame, and once the word is in
that frame nothing left before the return is a call (slots are released
with in-place list extends). Before that point the word is in C's
per-thread record, and the handler gives it back to the front of the queue
in one call (``ftk_queue_unpop_last``): the interrupted pop had no effect.
An interrupted push either went in (C records it; the exception says so in
a note, because a push cannot be undone) or had no effect (its slot is
released).

The methods are closures made by module-level factories (``_pop_fn`` ...)
over the queue's state: one implementation each, installed per instance and
made on demand through the class (``_Bound``).
"""
from __future__ import annotations

import types
from itertools import repeat
from typing import Any, Callable, Generic, Iterable, TypeVar

from ._common import Native, lib, release_handle, same
from ._compat import Empty, Full, ShutDown
from ._keepalive import _NONES, SlotTable, _consume, nones
from ._lib import BadHandleError, ffi, raise_status
from ._wait import SLICE_NS, WAIT_SLICE, deadline as _deadline, expired as _expired
from ._wait import check_timeout, slice_ns as _slice

__all__ = ["ConcurrentQueue", "StdConcurrentQueue", "WAIT_SLICE"]

T = TypeVar("T")

_NO_WAIT = 0

_push = lib.ftk_queue_push
_try_push = lib.ftk_queue_try_push
_try_pop_v = lib.ftk_queue_try_pop_v
_pop_v = lib.ftk_queue_pop_v
_last = lib.ftk_last_status
_last_result = lib.ftk_last_result
_unpop = lib.ftk_queue_unpop
_unpop_last = lib.ftk_queue_unpop_last
_NULL = ffi.NULL
_push_range = lib.ftk_queue_push_range_v
_pop_runs = lib.ftk_queue_pop_runs_v
_RUNS_MAX = lib.FTK_QUEUE_RUNS_MAX
_unpack = ffi.unpack

_OK = lib.FTK_OK
_EEMPTY = lib.FTK_EEMPTY
_EFULL = lib.FTK_EFULL
_ETIMEDOUT = lib.FTK_ETIMEDOUT
_ECLOSED = lib.FTK_ECLOSED
_EINTR = lib.FTK_EINTR
_EBADHANDLE = lib.FTK_EBADHANDLE
_NAME = "queue"  # for status messages ("the queue is closed")
_WAIT_AGAIN = (_EEMPTY, _ETIMEDOUT, _EINTR)


def _new_runs(n: int) -> Any:
    return ffi.new("uint64_t[]", 2 * n)


def _shut_down(what: str = "the queue was shut down") -> ShutDown:
    return ShutDown(what)


def _closed_while_waiting(st: int) -> bool:
    """A blocking call that began on a live handle sees FTK_EBADHANDLE only
    when close() freed the queue meanwhile: that is a shutdown to it."""
    return st == _ECLOSED or st == _EBADHANDLE


# -- interrupt recovery (rare paths) --------------------------------------------

def _give_back(h: Any, slots: SlotTable, words: list) -> None:
    """Words an interrupted pop took out of C, still in their slots: back to
    the front of the queue. If the queue refuses them (closed immediately or
    freed meanwhile), their objects are released, as the close would have."""
    if words and _unpop(h, words, len(words)):
        slots.release_many(words)


def _give_back_objects(h: Any, slots: SlotTable, items: list) -> None:
    """Objects an interrupted pop had already taken out of their (released)
    slots: back to the front of the queue under fresh slots."""
    if items:
        idx = slots.take_indices(len(items))
        _consume(map(slots.objs.__setitem__, idx, items))
        _give_back(h, slots, idx)


def _release_last(slots: SlotTable, runs: Any) -> None:
    """An interrupted pop's words could not be given back (ftk_queue_unpop_last
    failed: the queue was closed immediately or freed meanwhile): release
    their objects, as the close would have."""
    k = _last_result()
    if k:
        slots.release_many([k] if runs is None else _words_of_runs(runs, k))


def _words_of_runs(runs: Any, k: int) -> list:
    r = _unpack(runs, 2 * k)
    words: list = []
    for j in range(0, 2 * k, 2):
        words += range(r[j], r[j] + r[j + 1])
    return words


def _note_completed(exc: BaseException, what: str) -> None:
    """An interrupt arrived after a push had gone in (a push cannot be
    undone): say so on the exception, which propagates."""
    note = f"ftkit: the {what} completed before the interrupt: the item is in the queue"
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:  # 3.11+
        add_note(note)
    else:  # 3.9/3.10 and PyPy: the same __notes__ list (tracebacks do not show it)
        try:
            exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
        except AttributeError:  # an exception type with __slots__
            pass


# -- pops ----------------------------------------------------------------------------

def _wait_word(h: Any, timeout: Any) -> int:
    """The blocking part of a single pop: waits in slices for a word and
    returns it (or raises Empty/ShutDown). Returning a word across a frame
    is safe here: the caller recovers it from ftk_last_result (this frame
    makes no other libftkit call after the pop that returned it)."""
    end = _deadline(timeout)
    while True:
        ns = _slice(end)
        w = _pop_v(h, ns)
        if w:
            return w
        st = _last()
        if st in _WAIT_AGAIN:
            if ns == 0 or _expired(end):
                raise Empty()
            continue  # a slice ended: signal handlers ran
        if _closed_while_waiting(st):
            raise _shut_down()
        raise_status(st, "pop", _NAME)


def _pop_fn(h: Any, objs: list, back: list, slots: SlotTable, try_pop_v: Any,
            tups: list) -> Callable[..., Any]:
    def pop(timeout: float | None = None) -> Any:
        """ConcurrentQueue.pop. Interrupts: a signal handler runs only right
        after a call returns; once ``w`` holds the word no call is left before
        the return, and before that the word is in C's record (ftk_last_result),
        which _recover_last gives back in one call."""
        w = 0
        try:
            w = try_pop_v(h)
            if not w:
                st = _last()
                if st != _EEMPTY:
                    if st == _ECLOSED:
                        raise _shut_down()
                    raise_status(st, "pop", _NAME)
                w = _wait_word(h, timeout)
            # From here to the return nothing runs a signal handler: no call
            # (``back += tups[w]`` is an in-place list extend, not a call; tups[w]
            # is the table's own (w,): see SlotTable.tups).
            obj = objs[w]
            objs[w] = None
            b = back
            b += tups[w]  # local alias: rebinding a captured name would write the shared cell
            return obj
        except BaseException:
            # The word left C but never reached this frame: one call gives it
            # back (inline: a helper's entry could itself be interrupted).
            if not w:
                try:
                    st = _unpop_last(h, _NULL)
                except BaseException:  # a second interrupt: the call is idempotent
                    st = _unpop_last(h, _NULL)
                if st:
                    _release_last(slots, None)
            raise

    return pop


def _get_fn(h: Any, objs: list, back: list, slots: SlotTable, try_pop_v: Any,
            tups: list) -> Callable[..., Any]:
    def get(block: bool = True, timeout: float | None = None) -> Any:
        """StdConcurrentQueue.get: _pop_impl with queue.Queue's arguments (which
        checks the timeout before looking at the queue). Not a wrapper around
        _pop_impl: an interrupt between an inner return and ours would lose the
        item, so the few lines that take the object are this function's own."""
        if not block:
            timeout = 0
        elif timeout is not None:
            check_timeout(timeout)
        w = 0
        try:
            w = try_pop_v(h)
            if not w:
                st = _last()
                if st != _EEMPTY:
                    if st == _ECLOSED:
                        raise _shut_down()
                    raise_status(st, "get", _NAME)
                w = _wait_word(h, timeout)
            # From here to the return nothing runs a signal handler: no call
            # (``back += tups[w]`` is an in-place list extend, not a call; tups[w]
            # is the table's own (w,): see SlotTable.tups).
            obj = objs[w]
            objs[w] = None
            b = back
            b += tups[w]  # local alias: rebinding a captured name would write the shared cell
            return obj
        except BaseException:
            # The word left C but never reached this frame: one call gives it
            # back (inline: a helper's entry could itself be interrupted).
            if not w:
                try:
                    st = _unpop_last(h, _NULL)
                except BaseException:  # a second interrupt: the call is idempotent
                    st = _unpop_last(h, _NULL)
                if st:
                    _release_last(slots, None)
            raise

    return get


def _pop_many_fn(h: Any, objs: list, back: list, runs: list, slots: SlotTable, bufs: list,
                 pop_runs: Any) -> Callable[..., Any]:
    def pop_many(max_items: Any, timeout: float | None = None) -> list:
        """ConcurrentQueue.pop_many: waits (in slices) for the first item, then
        takes what is available up to max_items, in C chunks of up to 1024.

        Interrupts (see the module docstring): ``k`` is 0 while a C pop's result
        may be only in C's record (_recover_last gives it back in one call),
        else the runs popped into ``r``, still in their slots, or -1 when
        nothing is outstanding. The common case, one chunk that is one run of
        consecutive slots, takes its objects with slices and releases the run
        with an in-place list extend: no call between the C pop and the return.
        Otherwise ``phase`` says how far the chunk got (1: its objects ``got``
        cleared from their slots; 2: those slots released) and ``out`` holds
        the objects of earlier chunks; the handler gives everything back.
        (Only this rarer path needs several calls to recover, so a second
        interrupt arriving within the microseconds of the first's recovery of a
        fragmented pop_many can lose those items.)
        """
        if type(max_items) is not int:
            if not isinstance(max_items, int) or isinstance(max_items, bool):
                raise TypeError(f"max_items must be an int, not {type(max_items).__name__}")
            max_items = int(max_items)
        if max_items <= 0:
            if max_items < 0:
                raise ValueError("max_items must be >= 0")
            return []
        k = -1
        phase = 0
        out: list = []
        got: list = []
        idx: list = []
        try:  # a result buffer, reused: ffi.new costs more than the pop
            r = bufs.pop()
        except IndexError:
            r = _new_runs(_RUNS_MAX)
        try:
            want = max_items if max_items < _RUNS_MAX else _RUNS_MAX
            k = 0
            k = pop_runs(h, r, want, _NO_WAIT)
            if k == 1:  # the common case: one run, nothing can interrupt it
                a = r[0]
                c = r[1]
                got = objs[a:a + c]
                objs[a:a + c] = _NONES[c] if c <= 256 else [None] * c
                if c >= 2:
                    rl = runs
                    rl += ((a, c),)
                else:
                    bl = back
                    bl += (a,)
                if c == max_items or c < want:
                    fl = bufs
                    fl += (r,)  # only once read: another thread may take it now
                    return got
                out = got
                got = []
                k = -1
            end: float | None = None
            first = True
            ns = _NO_WAIT
            while True:
                if k == 0:  # the first chunk found nothing, or a wait slice ended
                    if out:
                        bufs.append(r)
                        return out  # took what was available
                    st = _last()
                    if st not in _WAIT_AGAIN:
                        if _closed_while_waiting(st) and (st == _ECLOSED or not first):
                            raise _shut_down()
                        raise_status(st, "pop_many", _NAME)
                    if first:
                        first = False
                        end = _deadline(timeout)
                    elif ns == 0 or _expired(end):
                        raise Empty()
                elif k > 0:  # several runs in this chunk: the careful path
                    idx = _words_of_runs(r, k)
                    got = list(map(objs.__getitem__, idx))
                    clear = map(objs.__setitem__, idx, repeat(None))
                    phase = 1
                    _consume(clear)
                    phase = 2
                    bl = back
                    bl += idx
                    out += got
                    got = []
                    k = -1
                    phase = 0
                    if len(out) >= max_items or len(out) % _RUNS_MAX:
                        bufs.append(r)
                        return out
                want = min(max_items - len(out), _RUNS_MAX)
                ns = _NO_WAIT if (first or out) else _slice(end)
                k = 0
                k = pop_runs(h, r, want, ns)  # (after a wait, any k takes the path above)
        except BaseException:
            if phase == 0:
                if k == 0:  # one call, inline (see _pop_impl)
                    if _unpop_last(h, r):
                        _release_last(slots, r)
                elif k > 0:  # runs still in their slots (``got`` only copied)
                    _give_back(h, slots, _words_of_runs(r, k))
                _give_back_objects(h, slots, out)
            else:
                if phase == 1:  # cleared, not yet released
                    bl = back
                    bl += idx
                _give_back_objects(h, slots, out + got)
            raise

    return pop_many


# -- pushes --------------------------------------------------------------------------

def _push_fn(h: Any, objs: list, free: list, slots: SlotTable, try_push: Any) -> Callable[..., Any]:
    def push(value: Any) -> None:
        """ConcurrentQueue.push. ``i`` != 0 while the slot holds ``value`` and
        the C push ran (nothing that can be interrupted lies between): an
        interrupt then either finds the item in (C recorded it; a note says so,
        since a push cannot be undone) or releases the slot: no effect. (An
        interrupt between taking the index and storing it costs that index.)"""
        i = 0
        try:
            try:
                i = free.pop()
            except IndexError:
                i = slots.take_index()
            objs[i] = value
            st = try_push(h, i)
            if st:
                j = i
                i = 0
                objs[j] = None
                slots.back.append(j)
                if st == _ECLOSED:
                    raise _shut_down()
                raise_status(st, "push", _NAME)
        except BaseException as exc:
            if i:
                try:
                    went_in = _last_result()
                except BaseException:  # a second interrupt: reading is idempotent
                    went_in = _last_result()
                if went_in == 1:
                    _note_completed(exc, "push")
                else:
                    objs[i] = None
                    back = slots.back
                    back += (i,)  # no call: nothing can interrupt the release
            raise

    return push


def _push_failed(exc: BaseException, done: int) -> BaseException:
    exc.pushed = done  # type: ignore[attr-defined]
    return exc


def _push_many_fn(h: Any, objs: list, free: list, runs: list, slots: SlotTable, try_push: Any,
                  push_range: Any) -> Callable[..., Any]:
    push_one = _push_fn(h, objs, free, slots, try_push)

    def push_many(items: Iterable[Any]) -> None:
        """ConcurrentQueue.push_many: the items get a run of consecutive slots
        (one slice store) and C pushes the index range, or scattered slots pushed
        from an array. If the queue is shut down meanwhile, the ShutDown carries
        ``pushed``: how many leading items went in (they will be delivered); the
        others were not pushed.

        For the interrupt handler: ``first`` (a run) or ``idx`` (scattered) is
        set while the slots hold the items; ``done`` is -1 before the C call,
        -2 once it ran (C recorded how many went in), then the count.
        """
        if type(items) is not list:
            items = list(items)
        n = len(items)
        if n < 2:
            if n:
                push_one(items[0])
            return
        first = -1
        idx: list = []
        done = -1
        cleared = 0  # scattered failure: 1 once the slots were cleared, 2 released
        rest: list = []
        try:
            if runs:  # slots.take_run(n), inline fast path
                try:
                    first, count = runs.pop()
                    if count > n:
                        runs.append((first + n, count - n))
                    elif count < n:
                        too_short = first
                        first = -1
                        runs.append((too_short, count))
                        first = slots.take_run(n)
                except IndexError:  # raced for the last run
                    first = -1
                    first = slots.take_run(n)
            else:  # (an exception costs more than this test)
                first = slots.take_run(n)
            if first >= 0:
                objs[first:first + n] = items
                done = -2
                done = push_range(h, first, n, _NO_WAIT)
                if done == n:
                    return
                st = _last()
                rest_first, left = first + done, n - done
                blank = nones(left)
                first = -1
                objs[rest_first:rest_first + left] = blank
                if left >= 2:
                    runs.append((rest_first, left))
                else:
                    slots.back.append(rest_first)
            else:
                first = -1
                idx = slots.take_indices(n)
                _consume(map(objs.__setitem__, idx, items))
                pushed = ffi.new("size_t *")
                done = -2
                st = lib.ftk_queue_push_many(h, idx, n, pushed, _NO_WAIT)
                done = pushed[0]
                if done == n:
                    return
                rest = idx[done:]
                clear = map(objs.__setitem__, rest, repeat(None))
                idx = []
                cleared = 1
                _consume(clear)
                cleared = 2
                slots.back.extend(rest)
            if st == _ECLOSED:
                raise _push_failed(_shut_down(), done)
            try:
                raise_status(st, "push_many", _NAME)
            except BaseException as e:  # noqa: BLE001 - the same, with the count
                raise _push_failed(e, done) from None
        except BaseException as exc:
            if cleared == 1:
                slots.back.extend(rest)
            if first >= 0 or idx:
                if done == -2:
                    done = _last_result()
                elif done < 0:
                    done = 0
                if first >= 0:
                    if done < n:
                        objs[first + done:first + n] = nones(n - done)
                        slots.release_run(first + done, n - done)
                else:
                    rest = idx[done:]
                    _consume(map(objs.__setitem__, rest, repeat(None)))
                    slots.back.extend(rest)
                if done:
                    _note_completed(exc, f"push of {done} of {n} items")
                if not hasattr(exc, "pushed"):
                    try:
                        exc.pushed = done  # type: ignore[attr-defined]
                    except AttributeError:
                        pass
            raise

    return push_many


def _put_fn(h: Any, objs: list, free: list, slots: SlotTable, bounded: bool,
            try_push: Any) -> Callable[..., Any]:
    def put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        """StdConcurrentQueue.put: waits (in slices) for room in a bounded queue
        (and, like queue.Queue, checks the timeout up front only when bounded).
        ``i`` != 0 while the slot holds ``item`` and a C push ran: see _push_impl
        for what an interrupt then means."""
        if bounded and block and timeout is not None:
            check_timeout(timeout)
        i = 0
        try:
            try:
                i = free.pop()
            except IndexError:
                i = slots.take_index()
            objs[i] = item
            st = try_push(h, i)
            if st == _OK:
                return
            if st == _EFULL and block and timeout != 0:
                end = _deadline(timeout)
                while True:
                    st = _push(h, i, _slice(end))
                    if st == _OK:
                        return
                    if st not in (_ETIMEDOUT, _EFULL, _EINTR) or _expired(end):
                        break
            j = i
            i = 0
            objs[j] = None
            slots.back.append(j)
            if st == _EFULL or st == _ETIMEDOUT or st == _EINTR:
                raise Full()
            if st == _ECLOSED or (st == _EBADHANDLE and block):
                raise _shut_down()
            raise_status(st, "put", _NAME)
        except BaseException as exc:
            if i:
                try:
                    went_in = _last_result()
                except BaseException:  # a second interrupt: reading is idempotent
                    went_in = _last_result()
                if went_in == 1:
                    _note_completed(exc, "put")
                else:
                    objs[i] = None
                    back = slots.back
                    back += (i,)  # no call: nothing can interrupt the release
            raise

    return put


class _Bound:
    """A queue method made by a module-level factory from the queue's state:
    the returned closure is the whole method (one frame from the C call to
    the return, which the interrupt rule needs; state read from cells, no
    attribute lookups, no reference to the queue object, so no cycle). Each
    instance gets its closures once (``_install_fast_paths``); looked up
    through the class (``super().pop(...)`` in a subclass) it makes one on the
    spot. Every closure keeps the queue's owner cdata alive (``_owner``), as a
    bound method keeps its instance. (Closures, not partials of module
    functions: a partial with more than four bound arguments copies its
    arguments on every call; measured with callgrind on 3.11, push+pop
    7,629 instructions with closures vs 8,665 with partials.)"""

    def __init__(self, factory: Callable[..., Any], attrs: tuple[str, ...], doc: str) -> None:
        self.factory = factory
        self.attrs = attrs
        self.__doc__ = doc

    def bind(self, obj: Any) -> Any:
        d = obj.__dict__
        fn = self.factory(*[d[a] for a in self.attrs])
        fn._owner = d["_owner"]
        fn.__doc__ = self.__doc__
        return fn

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else self.bind(obj)

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        """``ConcurrentQueue.pop(q, ...)`` spelled through the class."""
        return self.bind(obj)(*args, **kwargs)


_CLOSE_LOCK = __import__("threading").Lock()  # close() is rare: one lock for all


class _QueueBase(Native):
    """Handle, slot table and shutdown shared by both queue classes.

    The C queue is owned by its owner cdata (``owned_handle``): it is freed
    when the last holder goes, the queue object or any method taken from it
    (``pop = q.pop`` keeps working after ``del q``, like a bound method), or
    at once by ``close()``.
    """

    def _init_queue(self, capacity: int) -> None:
        self._slots = slots = SlotTable(versioned=False, capacity=256)
        # the table's lists, for the hot paths (they grow in place, never swap)
        self._objs, self._free, self._back = slots.objs, slots.free, slots.back
        self._runs = slots.runs
        self._tups = slots.tups
        self._run_bufs: list = []  # pop_many result buffers, reused across calls
        self._own(lib.ftk_queue_new, lib.ftk_queue_free, capacity)

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """Bind each _Bound method to this queue's state once (closures: no
        reference to self, so no cycle), over ``fn`` of each C function they
        call per item (``same``; a view passes ``thread_copy``: see
        ftkit._common). A subclass that overrides one of them keeps its
        override."""
        cls: Any = type(self)
        d = self.__dict__
        d["_f_try_push"] = fn(_try_push)
        d["_f_try_pop_v"] = fn(_try_pop_v)
        d["_f_push_range"] = fn(_push_range)
        d["_f_pop_runs"] = fn(_pop_runs)
        for name, desc in _BOUND_METHODS.items():
            if getattr(cls, name, None) is desc:
                d[name] = desc.bind(self)

    __class_getitem__: Any = classmethod(types.GenericAlias)

    # -- shutdown -------------------------------------------------------------
    def _release_all(self) -> int:
        """Drain what is left in C and release the objects; return how many."""
        h = self._h
        slots = self._slots
        buf = ffi.new("uint64_t[]", 256)
        n = ffi.new("size_t *")
        total = 0
        while True:
            st = lib.ftk_queue_drain(h, buf, 256, n)
            if st or n[0] == 0:
                return total
            slots.release_many(_unpack(buf, n[0]))
            total += n[0]

    def _size(self) -> int:
        out = ffi.new("size_t *")
        st = lib.ftk_queue_size_approx(self._h, out)
        if st:
            raise_status(st, "size", _NAME)
        return out[0]

    def _is_shutdown(self) -> int:
        out = ffi.new("int *")
        st = lib.ftk_queue_is_closed(self._h, out)
        if st:
            raise_status(st, "", _NAME)
        return out[0]

    def _shutdown(self, immediate: bool) -> None:
        st = lib.ftk_queue_close(self._h, 1 if immediate else 0)
        if st:
            raise_status(st, "shutdown", _NAME)
        if immediate:
            self._release_all()

    def close(self) -> None:
        """Shut down immediately, release every item and free the C queue.

        Idempotent. Afterwards every method raises BadHandleError (a
        ValueError); a call blocked in another thread wakes and raises
        ShutDown. Items that other threads had already popped stay theirs.
        """
        with _CLOSE_LOCK:
            owner = self.__dict__.get("_owner")
            if owner is None or self.__dict__.get("_closed"):
                return
            self._closed = True
            try:
                if lib.ftk_queue_close(self._h, 1) == _OK:
                    self._release_all()
            finally:
                release_handle(owner)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ConcurrentQueue(_QueueBase, Generic[T]):
    """An unbounded multi-producer multi-consumer FIFO queue.

    >>> q = ConcurrentQueue()
    >>> q.push(1); q.push_many([2, 3])
    >>> q.pop(), q.pop_many(10), q.size()
    (1, [2, 3], 0)

    ``pop`` blocks until an item arrives (or ``timeout`` seconds pass: then
    it raises Empty). Items pushed by one thread come out in that thread's
    order; every item is popped exactly once. ``shutdown()`` makes pushes
    raise ShutDown and pops raise it once the queue is empty;
    ``shutdown(immediate=True)`` makes pops raise at once and releases the
    items left. An interrupted call (Ctrl-C) either completed or had no
    effect: a pop gives its item back to the front of the queue.
    ``scaling`` is accepted for ft_utils compatibility and ignored (the queue
    scales without a hint); ``lock_free`` is accepted and ignored too:
    ftkit's data path is always lock-free, and waiting is always done in the
    OS.
    """

    def __init__(self, scaling: int | None = None, lock_free: bool = False) -> None:
        if scaling is not None and (not isinstance(scaling, int) or isinstance(scaling, bool)):
            raise TypeError(f"scaling must be an int or None, not {type(scaling).__name__}")
        if scaling is not None and scaling < 0:
            raise ValueError("scaling must be >= 0")
        self._init_queue(0)

    push: Any = _Bound(_push_fn, ("_h", "_objs", "_free", "_slots", "_f_try_push"),
                       """push(value): append ``value``. Raises ShutDown after
                       ``shutdown()``.""")
    pop: Any = _Bound(_pop_fn, ("_h", "_objs", "_back", "_slots", "_f_try_pop_v", "_tups"),
                      """pop(timeout=None): remove and return the oldest item,
                      waiting up to ``timeout`` seconds (None: forever). Raises
                      Empty on timeout, ShutDown when shut down.""")

    def pop_local(self, timeout: float | None = None) -> Any:
        """``pop`` wrapped in a LocalWrapper (for use inside one thread)."""
        from .local import LocalWrapper

        return LocalWrapper(self.pop(timeout))

    push_many: Any = _Bound(_push_many_fn, ("_h", "_objs", "_free", "_runs", "_slots",
                                           "_f_try_push", "_f_push_range"),
                            """push_many(items): append every item, in order,
                            crossing into C once. The items get consecutive slot
                            indices, stored with one slice assignment; C pushes the
                            index range. If the queue is shut down meanwhile, the
                            ShutDown raised has a ``pushed`` attribute: how many
                            leading items went in (they will be delivered); the
                            rest did not.""")
    pop_many: Any = _Bound(_pop_many_fn,
                           ("_h", "_objs", "_back", "_runs", "_slots", "_run_bufs",
                            "_f_pop_runs"),
                           """pop_many(max_items, timeout=None): wait for at least
                           one item (up to ``timeout``), then remove and return up
                           to ``max_items`` available items, oldest first.""")

    def size(self) -> int:
        """Number of items inside (a snapshot)."""
        return self._size()

    __len__ = size

    def empty(self) -> bool:
        return self._size() == 0

    def shutdown(self, immediate: bool = False) -> None:
        """Refuse further pushes; pops drain what is left (or, with
        ``immediate=True``, raise at once and the items left are released).
        Every pop blocked on an empty queue wakes and raises ShutDown."""
        self._shutdown(immediate)

    def __repr__(self) -> str:
        try:
            state = ("", " shut down", " shut down immediately")[self._is_shutdown()]
            return f"<{type(self).__name__} size={self._size()}{state}>"
        except BadHandleError:
            return f"<{type(self).__name__} closed>"


class StdConcurrentQueue(ConcurrentQueue[T]):
    """A drop-in ``queue.Queue`` on libftkit's queue (and, as in ft_utils, a
    ConcurrentQueue: ``push``, ``pop``, ``pop_local``, ``size`` work too;
    ``push`` on a full bounded queue raises Full instead of waiting).

    ``put``/``get`` with ``block`` and ``timeout``, ``put_nowait``,
    ``get_nowait``, ``qsize``, ``empty``, ``full``, ``maxsize``,
    ``unfinished_tasks``, ``task_done``, ``join`` and ``shutdown``, with
    ``queue.Queue``'s exceptions (``queue.Empty``, ``queue.Full``,
    ``queue.ShutDown``). The bound is exact.
    """

    def __init__(self, maxsize: int = 0) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
        self.maxsize = maxsize
        self._bounded = maxsize > 0
        self._init_queue(maxsize if maxsize > 0 else 0)

    put: Any = _Bound(_put_fn, ("_h", "_objs", "_free", "_slots", "_bounded", "_f_try_push"),
                      """put(item, block=True, timeout=None): put ``item``, waiting
                      up to ``timeout`` for room in a bounded queue (``block=False``:
                      not at all). Raises Full, or ShutDown.""")

    def put_nowait(self, item: T) -> None:
        return self.put(item, False)

    get: Any = _Bound(_get_fn, ("_h", "_objs", "_back", "_slots", "_f_try_pop_v", "_tups"),
                      """get(block=True, timeout=None): remove and return an item,
                      waiting up to ``timeout`` (``block=False``: not at all).
                      Raises Empty, or ShutDown.""")

    def get_nowait(self) -> T:
        return self.get(False)

    def qsize(self) -> int:
        return self._size()

    def full(self) -> bool:
        return 0 < self.maxsize <= self._size()

    @property
    def unfinished_tasks(self) -> int:
        out = ffi.new("uint64_t *")
        st = lib.ftk_queue_unfinished(self._h, out)
        if st:
            raise_status(st, "", _NAME)
        return out[0]

    def task_done(self) -> None:
        st = lib.ftk_queue_task_done(self._h)
        if st == lib.FTK_EINVAL:
            raise ValueError("task_done() called too many times")
        if st:
            raise_status(st, "task_done", _NAME)

    def join(self) -> None:
        """Block until every item put has been marked done (no polling: each
        slice is an OS wait woken by the last task_done)."""
        h = self._h
        while True:
            st = lib.ftk_queue_join(h, SLICE_NS)
            if st == _OK:
                return
            if st in (_ETIMEDOUT, _EINTR):
                continue
            raise_status(st, "join", _NAME)

    def shutdown(self, immediate: bool = False) -> None:
        """As ``queue.Queue.shutdown`` (3.13): puts raise ShutDown; gets raise
        it once empty, or at once with ``immediate=True``, which also discards
        the items left and marks them done so ``join`` can return."""
        self._shutdown(immediate)

    def __repr__(self) -> str:
        try:
            return f"<{type(self).__name__} maxsize={self.maxsize} qsize={self._size()}>"
        except BadHandleError:
            return f"<{type(self).__name__} closed>"


_BOUND_METHODS: dict[str, _Bound] = {
    name: desc for cls in (ConcurrentQueue, StdConcurrentQueue)
    for name, desc in vars(cls).items() if isinstance(desc, _Bound)}
