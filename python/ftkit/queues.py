"""ConcurrentQueue and StdConcurrentQueue over libftkit's MPMC queue.

The C queue stores slot words (indices into the queue's own unversioned
SlotTable, see ftkit._keepalive); the objects live in that table. Each word
has exactly one owner at a time (the pusher, the queue, then the popper), so
no generation check is needed.

Blocking calls never park inside C for long: they wait in slices of at most
``WAIT_SLICE`` seconds (a real OS wait, woken by pushes, not a poll), and
between slices the interpreter runs signal handlers, so Ctrl-C interrupts a
blocked ``pop``/``get``/``join`` with or without the GIL, and timeouts are
exact to the slice.
"""
from __future__ import annotations

import time
import types
from collections import deque
from itertools import repeat
from typing import Any, Callable, Generic, Iterable, TypeVar

from ._common import lib, new_handle, refuse_pickle
from ._compat import Empty, Full, ShutDown
from ._keepalive import _NONES, SlotTable, nones
from ._lib import BadHandleError, ffi, raise_status

__all__ = ["ConcurrentQueue", "StdConcurrentQueue", "WAIT_SLICE"]

T = TypeVar("T")

#: Longest single wait inside C before returning to the interpreter (seconds).
WAIT_SLICE = 0.05
_SLICE_NS = int(WAIT_SLICE * 1e9)
_NO_WAIT = 0

_push = lib.ftk_queue_push
_try_push = lib.ftk_queue_try_push
_try_pop_v = lib.ftk_queue_try_pop_v
_pop_v = lib.ftk_queue_pop_v
_last = lib.ftk_last_status
_push_range = lib.ftk_queue_push_range_v
_pop_runs = lib.ftk_queue_pop_runs_v
_RUNS_MAX = lib.FTK_QUEUE_RUNS_MAX
_unpack = ffi.unpack


def _new_runs(n: int) -> Any:
    return ffi.new("uint64_t[]", 2 * n)
_consume: Any = deque(maxlen=0).extend

_OK = lib.FTK_OK
_EEMPTY = lib.FTK_EEMPTY
_EFULL = lib.FTK_EFULL
_ETIMEDOUT = lib.FTK_ETIMEDOUT
_ECLOSED = lib.FTK_ECLOSED
_EINTR = lib.FTK_EINTR
_EBADHANDLE = lib.FTK_EBADHANDLE


def _deadline(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
        raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return time.monotonic() + timeout


def _slice(deadline: float | None) -> int:
    """ns to wait in the next slice; -1 never happens (we always slice)."""
    if deadline is None:
        return _SLICE_NS
    left = deadline - time.monotonic()
    if left <= 0:
        return 0
    return min(_SLICE_NS, int(left * 1e9) + 1)


def _take_word(slots: SlotTable, w: int) -> Any:
    objs = slots.objs
    obj = objs[w]
    objs[w] = None
    slots.back.append(w)
    return obj


def _pop_blocking(h: Any, slots: SlotTable, deadline: float | None,
                  closed_exc: type[BaseException], empty_exc: type[BaseException]) -> Any:
    """Blocking pop in slices (the fast non-blocking attempt failed)."""
    while True:
        ns = _slice(deadline)
        w = _pop_v(h, ns)
        if w:
            return _take_word(slots, w)
        st = _last()
        if st == _ETIMEDOUT or st == _EEMPTY or st == _EINTR:
            if ns == 0 or (deadline is not None and time.monotonic() >= deadline):
                raise empty_exc()
            continue  # a slice ended: signal handlers run here
        if st == _ECLOSED:
            raise closed_exc()
        raise_status(st, "pop")


def _pop_slow(h: Any, slots: SlotTable, timeout: float | None) -> Any:
    st = _last()
    if st == _ECLOSED:
        raise ShutDown("the queue was shut down")
    if st != _EEMPTY:
        raise_status(st, "pop")
    return _pop_blocking(h, slots, _deadline(timeout), ShutDown, Empty)


def _push_failed(slots: SlotTable, i: int, st: int) -> None:
    slots.objs[i] = None
    slots.back.append(i)
    if st == _ECLOSED:
        raise ShutDown("the queue was shut down")
    raise_status(st, "push")


def _take_runs(slots: SlotTable, runs: Any, k: int) -> list:
    """The objects of k popped runs (pairs first, count in ``runs``), in
    queue order; their slots released."""
    r = _unpack(runs, 2 * k)
    objs = slots.objs
    out: list = []
    for j in range(0, 2 * k, 2):
        a, c = r[j], r[j + 1]
        out += objs[a:a + c]
        objs[a:a + c] = _NONES[c] if c <= 256 else [None] * c
        slots.release_run(a, c)
    return out


def _pop_many(h: Any, slots: SlotTable, bufs: list, max_items: Any,
              timeout: float | None) -> list:
    """ConcurrentQueue.pop_many for subclasses that override it (the
    installed closure inlines the one-run case of this)."""
    if type(max_items) is not int or not 0 < max_items <= _RUNS_MAX:
        return _pop_many_checked(h, slots, max_items, timeout)
    try:  # a result buffer, reused: ffi.new costs more than the pop
        runs = bufs.pop()
    except IndexError:
        runs = _new_runs(_RUNS_MAX)
    k = _pop_runs(h, runs, max_items, _NO_WAIT)
    out = _take_runs(slots, runs, k) if k else []
    bufs.append(runs)  # only once read: another thread may take it now
    return out if k else _pop_many_wait(h, slots, max_items, timeout)


def _pop_many_checked(h: Any, slots: SlotTable, max_items: Any,
                      timeout: float | None) -> list:
    if not isinstance(max_items, int) or isinstance(max_items, bool):
        raise TypeError(f"max_items must be an int, not {type(max_items).__name__}")
    if max_items < 0:
        raise ValueError("max_items must be >= 0")
    if max_items == 0:
        return []
    return _pop_many_wait(h, slots, int(max_items), timeout)


def _pop_many_wait(h: Any, slots: SlotTable, max_items: int,
                   timeout: float | None) -> list:
    """pop_many's general path: waits in slices for the first item, then
    takes what is available, up to max_items (in C-sized chunks)."""
    out: list = []
    deadline: float | None = None
    first_try = True
    runs = _new_runs(_RUNS_MAX)
    while len(out) < max_items:
        want = min(max_items - len(out), _RUNS_MAX)
        ns = _NO_WAIT if (first_try or out) else _slice(deadline)
        k = _pop_runs(h, runs, want, ns)
        if k:
            got = _take_runs(slots, runs, k)
            out += got
            if len(got) < want:
                return out  # drained what was available
            continue
        if out:
            return out  # took what was available
        st = _last()
        if st == _ECLOSED:
            raise ShutDown("the queue was shut down")
        if st not in (_EEMPTY, _ETIMEDOUT, _EINTR):
            raise_status(st, "pop_many")
        if first_try:
            first_try = False
            deadline = _deadline(timeout)
            continue
        if ns == 0 or (deadline is not None and time.monotonic() >= deadline):
            raise Empty()
    return out


def _push_scattered(h: Any, slots: SlotTable, items: list) -> None:
    """push_many when no run of consecutive slots is free: n single slots,
    pushed in one C call from an array of their words."""
    n = len(items)
    if n == 1:  # no array needed
        i = slots.take_index()
        slots.objs[i] = items[0]
        st = _try_push(h, i)
        if st:
            _push_failed(slots, i, st)
        return
    idx = slots.take_indices(n)
    objs = slots.objs
    if idx[-1] - idx[0] == n - 1 and idx == list(range(idx[0], idx[0] + n)):
        # consecutive after all (refills sort the free list): a range push
        return _push_run(h, slots, idx[0], items)
    _consume(map(objs.__setitem__, idx, items))
    pushed = ffi.new("size_t *")
    st = lib.ftk_queue_push_many(h, idx, n, pushed, _NO_WAIT)
    if st:
        rest = idx[pushed[0]:]
        _consume(map(objs.__setitem__, rest, repeat(None)))
        slots.back.extend(rest)
        if st == _ECLOSED:
            raise ShutDown("the queue was shut down")
        raise_status(st, "push_many")


def _push_run(h: Any, slots: SlotTable, first: int, items: list) -> None:
    """Store items in the free run starting at slot ``first`` and push it."""
    n = len(items)
    slots.objs[first:first + n] = items
    done = _push_range(h, first, n, _NO_WAIT)
    if done != n:
        _push_range_failed(slots, first + done, n - done)


def _push_range_failed(slots: SlotTable, first: int, n: int) -> None:
    """push_many stopped before slot ``first``: release the n slots left."""
    st = _last()
    slots.objs[first:first + n] = nones(n)
    slots.release_run(first, n)
    if st == _ECLOSED:
        raise ShutDown("the queue was shut down")
    raise_status(st, "push_many")


class _QueueBase:
    """Handle, slot table and the wait loops shared by both queue classes."""

    __hash__ = object.__hash__

    def _init_queue(self, capacity: int) -> None:
        self._slots = slots = SlotTable(versioned=False, capacity=256)
        # the table's lists, for the hot paths (they grow in place, never swap)
        self._objs, self._free, self._back = slots.objs, slots.free, slots.back
        self._runs = slots.runs
        self._run_bufs: list = []  # pop_many result buffers, reused across calls
        self._h = new_handle(lib.ftk_queue_new, capacity)

    def __del__(self, _free: Callable[[Any], int] = lib.ftk_queue_free) -> None:
        h = self.__dict__.get("_h")
        if h is not None:
            _free(h)

    __reduce_ex__ = refuse_pickle  # type: ignore[assignment]
    __class_getitem__: Any = classmethod(types.GenericAlias)

    # -- taking words back out ------------------------------------------------
    def _take(self, w: int) -> Any:
        slots = self._slots
        obj = slots.objs[w]
        slots.objs[w] = None
        slots.back.append(w)
        return obj

    def _pop_wait(self, deadline: float | None, closed_exc: type[BaseException],
                  empty_exc: type[BaseException]) -> Any:
        return _pop_blocking(self._h, self._slots, deadline, closed_exc, empty_exc)

    def _push_word(self, value: Any, timeout_ns: int) -> int:
        slots = self._slots
        try:
            i = slots.free.pop()
        except IndexError:
            i = slots.take_index()
        slots.objs[i] = value
        st = _push(self._h, i, timeout_ns)
        if st:
            slots.objs[i] = None
            slots.back.append(i)
        return st

    def _push_wait(self, value: Any, deadline: float | None) -> None:
        while True:
            st = self._push_word(value, _slice(deadline))
            if st == _OK:
                return
            if st in (_ETIMEDOUT, _EFULL, _EINTR):
                if deadline is not None and time.monotonic() >= deadline:
                    raise Full()
                continue
            if st == _ECLOSED:
                raise ShutDown("the queue was shut down")
            raise_status(st, "push")

    def _release_all(self) -> int:
        """Drain what is left in C and release the objects; return how many."""
        h = self._h
        buf = ffi.new("uint64_t[]", 256)
        n = ffi.new("size_t *")
        total = 0
        while True:
            st = lib.ftk_queue_drain(h, buf, 256, n)
            if st or n[0] == 0:
                return total
            words = ffi.unpack(buf, n[0])
            _consume(map(self._take, words))
            total += len(words)

    def _size(self) -> int:
        out = ffi.new("size_t *")
        st = lib.ftk_queue_size_approx(self._h, out)
        if st:
            raise_status(st, "size")
        return out[0]

    def _is_shutdown(self) -> int:
        out = ffi.new("int *")
        st = lib.ftk_queue_is_closed(self._h, out)
        if st:
            raise_status(st)
        return out[0]

    def _shutdown(self, immediate: bool) -> None:
        st = lib.ftk_queue_close(self._h, 1 if immediate else 0)
        if st:
            raise_status(st, "shutdown")
        if immediate:
            self._release_all()

    def close(self) -> None:
        """Shut down immediately, release every item and free the C queue.

        Idempotent. Afterwards every method raises BadHandleError (a
        ValueError): the queue is gone.
        """
        h = self.__dict__.get("_h")
        if h is None:
            return
        if lib.ftk_queue_close(h, 1) == _OK:
            self._release_all()
            lib.ftk_queue_free(h)
            self._slots.clear()

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
    items left. ``scaling`` is accepted for ft_utils compatibility and
    ignored (the queue scales without a hint); ``lock_free`` is accepted and
    ignored too: ftkit's data path is always lock-free, and waiting is always
    done in the OS.
    """

    def __init__(self, scaling: int | None = None, lock_free: bool = False) -> None:
        if scaling is not None and (not isinstance(scaling, int) or isinstance(scaling, bool)):
            raise TypeError(f"scaling must be an int or None, not {type(scaling).__name__}")
        if scaling is not None and scaling < 0:
            raise ValueError("scaling must be >= 0")
        self._init_queue(0)
        self._install_fast_paths()

    def _install_fast_paths(self) -> None:
        """Install push/pop as closures over the queue's state.

        A closure reads its state from cells instead of attributes (an
        attribute load costs ~50 ns on 3.13t) and skips method binding; it
        does not reference ``self``, so no cycle keeps the queue alive. A
        subclass that overrides push or pop keeps its override.
        """
        cls = type(self)
        h, slots, objs, free, back = self._h, self._slots, self._objs, self._free, self._back
        take_index = slots.take_index

        if cls.push is ConcurrentQueue.push:
            def push(value: Any) -> None:
                try:
                    i = free.pop()
                except IndexError:
                    i = take_index()
                objs[i] = value
                st = _try_push(h, i)
                if st:
                    _push_failed(slots, i, st)

            push.__doc__ = ConcurrentQueue.push.__doc__
            self.__dict__["push"] = push

        if cls.pop is ConcurrentQueue.pop:
            def pop(timeout: float | None = None) -> Any:
                w = _try_pop_v(h)
                if w:
                    obj = objs[w]
                    objs[w] = None
                    back.append(w)
                    return obj
                return _pop_slow(h, slots, timeout)

            pop.__doc__ = ConcurrentQueue.pop.__doc__
            self.__dict__["pop"] = pop

        if cls.push_many is ConcurrentQueue.push_many:
            runs, take_run = slots.runs, slots.take_run

            def push_many(items: Iterable[Any]) -> None:
                if type(items) is not list:
                    items = list(items)
                n = len(items)
                if n < 2:
                    if n:  # one item: the single push
                        try:
                            i = free.pop()
                        except IndexError:
                            i = take_index()
                        objs[i] = items[0]
                        st = _try_push(h, i)
                        if st:
                            _push_failed(slots, i, st)
                    return
                if runs:  # slots.take_run(n), inline fast path
                    try:
                        first, count = runs.pop()
                        if count > n:
                            runs.append((first + n, count - n))
                        elif count < n:
                            runs.append((first, count))
                            first = take_run(n)
                    except IndexError:  # raced for the last run
                        first = take_run(n)
                else:  # (an exception costs more than this test)
                    first = take_run(n)
                if first < 0:
                    return _push_scattered(h, slots, items)
                objs[first:first + n] = items
                done = _push_range(h, first, n, _NO_WAIT)
                if done != n:
                    _push_range_failed(slots, first + done, n - done)

            push_many.__doc__ = ConcurrentQueue.push_many.__doc__
            self.__dict__["push_many"] = push_many

        if cls.pop_many is ConcurrentQueue.pop_many:
            bufs = self._run_bufs

            def pop_many(max_items: int, timeout: float | None = None) -> list:
                # _pop_many's common case, inline (a call costs ~100 ns)
                if type(max_items) is int and 0 < max_items <= _RUNS_MAX:
                    try:
                        r = bufs.pop()
                    except IndexError:
                        r = _new_runs(_RUNS_MAX)
                    k = _pop_runs(h, r, max_items, _NO_WAIT)
                    if k == 1:
                        a = r[0]
                        c = r[1]
                        bufs.append(r)  # read: another thread may take it now
                        out = objs[a:a + c]
                        objs[a:a + c] = _NONES[c] if c <= 256 else [None] * c
                        if c >= 2:
                            runs.append((a, c))
                        else:
                            back.extend(range(a + c - 1, a - 1, -1))
                        return out
                    if k:
                        out = _take_runs(slots, r, k)
                        bufs.append(r)
                        return out
                    bufs.append(r)
                    return _pop_many_wait(h, slots, max_items, timeout)
                return _pop_many_checked(h, slots, max_items, timeout)

            pop_many.__doc__ = ConcurrentQueue.pop_many.__doc__
            self.__dict__["pop_many"] = pop_many

    def push(self, value: T) -> None:
        """Append ``value``. Raises ShutDown after ``shutdown()``."""
        try:
            i = self._free.pop()
        except IndexError:
            i = self._slots.take_index()
        self._objs[i] = value
        st = _try_push(self._h, i)
        if st:
            self._objs[i] = None
            self._back.append(i)
            if st == _ECLOSED:
                raise ShutDown("the queue was shut down")
            raise_status(st, "push")

    def pop(self, timeout: float | None = None) -> T:
        """Remove and return the oldest item, waiting up to ``timeout`` seconds
        (None: forever). Raises Empty on timeout, ShutDown when shut down."""
        w = _try_pop_v(self._h)
        if w:
            objs = self._objs
            obj = objs[w]
            objs[w] = None
            self._back.append(w)
            return obj
        st = _last()
        if st == _ECLOSED:
            raise ShutDown("the queue was shut down")
        if st != _EEMPTY:
            raise_status(st, "pop")
        return self._pop_wait(_deadline(timeout), ShutDown, Empty)

    def pop_local(self, timeout: float | None = None) -> Any:
        """``pop`` wrapped in a LocalWrapper (for use inside one thread)."""
        from .local import LocalWrapper

        return LocalWrapper(self.pop(timeout))

    def push_many(self, items: Iterable[T]) -> None:
        """Append every item, in order, crossing into C once.

        The items get consecutive slot indices, stored with one slice
        assignment; C pushes the index range (no array crosses the FFI).
        """
        items = items if type(items) is list else list(items)
        if len(items) == 1:
            self.push(items[0])
        elif items:
            first = self._slots.take_run(len(items))
            if first < 0:
                return _push_scattered(self._h, self._slots, items)
            _push_run(self._h, self._slots, first, items)

    def pop_many(self, max_items: int, timeout: float | None = None) -> list[T]:
        """Wait for at least one item (up to ``timeout``), then remove and
        return up to ``max_items`` available items, oldest first."""
        return _pop_many(self._h, self._slots, self._run_bufs, max_items, timeout)

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


class StdConcurrentQueue(_QueueBase, Generic[T]):
    """A drop-in ``queue.Queue`` on libftkit's queue.

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
        self._init_queue(maxsize if maxsize > 0 else 0)

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        if not block:
            return self.put_nowait(item)
        deadline = _deadline(timeout)
        st = self._push_word(item, _NO_WAIT)
        if st == _OK:
            return None
        if st == _ECLOSED:
            raise ShutDown("the queue was shut down")
        if st != _EFULL:
            raise_status(st, "put")
        if deadline is not None and timeout == 0:
            raise Full()
        self._push_wait(item, deadline)
        return None

    def put_nowait(self, item: T) -> None:
        st = self._push_word(item, _NO_WAIT)
        if st == _OK:
            return
        if st == _EFULL:
            raise Full()
        if st == _ECLOSED:
            raise ShutDown("the queue was shut down")
        raise_status(st, "put")

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        deadline = _deadline(timeout) if block else None
        w = _try_pop_v(self._h)
        if w:
            return self._take(w)
        st = _last()
        if st == _ECLOSED:
            raise ShutDown("the queue was shut down")
        if st != _EEMPTY:
            raise_status(st, "get")
        if not block or timeout == 0:
            raise Empty()
        return self._pop_wait(deadline, ShutDown, Empty)

    def get_nowait(self) -> T:
        return self.get(block=False)

    def qsize(self) -> int:
        return self._size()

    def empty(self) -> bool:
        return self._size() == 0

    def full(self) -> bool:
        return 0 < self.maxsize <= self._size()

    @property
    def unfinished_tasks(self) -> int:
        out = ffi.new("uint64_t *")
        st = lib.ftk_queue_unfinished(self._h, out)
        if st:
            raise_status(st)
        return out[0]

    def task_done(self) -> None:
        st = lib.ftk_queue_task_done(self._h)
        if st == lib.FTK_EINVAL:
            raise ValueError("task_done() called too many times")
        if st:
            raise_status(st, "task_done")

    def join(self) -> None:
        """Block until every item put has been marked done (no polling: each
        slice is an OS wait woken by the last task_done)."""
        h = self._h
        while True:
            st = lib.ftk_queue_join(h, _SLICE_NS)
            if st == _OK:
                return
            if st in (_ETIMEDOUT, _EINTR):
                continue
            raise_status(st, "join")

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
