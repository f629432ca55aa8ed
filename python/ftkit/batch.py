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
from itertools import repeat, starmap
from typing import Any, Callable, Generic, TypeVar

from ._common import Native, release_handle
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

_CLOSE_LOCK = threading.Lock()


class _State:
    """What an executor and its views share besides the C object.

    Keep-alive (docs/design.md, "BatchExecutor"): ``objs`` holds the values
    of the published batch, one slot each (a word is a slot index; index 0
    is never used). A batch occupies a *run* of ``size`` consecutive slots.
    The loader that claimed a word reads its slot and clears it (stores
    None); a value that is None itself is stored as ``_NONE`` so that a
    None slot always means "read by its claimer". Only the refiller (one
    thread at a time: C's refill role orders them) touches the run lists:
    when it needs a run it reuses one whose slots are all None (all its
    values were read: no reader can still be about to read one), else it
    appends a new run. A run still holding a value (a loader between its
    claim and its read, or a word given back) waits in ``busy`` and is
    checked again at the next refill.
    """

    __slots__ = ("error", "closed", "objs", "free_runs", "busy", "size")

    def __init__(self, size: int) -> None:
        self.error: BaseException | None = None
        self.closed = False
        self.size = size
        self.objs: list[Any] = [None]
        self.free_runs: list[int] = []
        self.busy: list[int] = []

    def take_run(self) -> int:
        """First slot of a run of ``size`` free slots (refiller only).

        Interrupt-safe: a KeyboardInterrupt can land after any call here,
        so the lists change only through statements that are not calls
        (slice and in-place assignments, ``del``): a run is never listed
        twice (which would let two batches share it). An interrupt can at
        worst forget a run of empty slots (memory, not values)."""
        objs, size, busy, free = self.objs, self.size, self.busy, self.free_runs
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
        first = state.take_run()
        k = len(vals)
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


def _load_fn(owner: Any, h: Any, source: Any, state: _State) -> Callable[[], Any]:
    objs = state.objs
    load_v = _load_v  # closure cells: cheaper than module globals on 3.13t
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
    ``as_local()`` returns ``LocalWrapper(self)``; ``local()`` a thread-owned
    view (the same executor with callables made by the calling thread).
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

    def _install_fast_paths(self) -> None:
        """load as a closure over this instance's own handle cdata (also run
        by local_view for a view). A subclass that overrides load keeps it."""
        d = self.__dict__
        if type(self).load is BatchExecutor.load:
            d["load"] = _load_fn(d["_owner"], d["_h"], d["_source"], d["_state"])

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

    def as_local(self) -> LocalWrapper:
        """``LocalWrapper(self)`` (ft_utils' API)."""
        return LocalWrapper(self)


    def close(self) -> None:
        """Close now: release the values still buffered and free the C
        object. Idempotent. Afterwards ``load()`` raises BadHandleError (a
        ValueError); a ``load()`` waiting for a refill in another thread
        wakes and raises it; a refill running in another thread cannot
        publish (its values are released). Values other threads already
        loaded stay theirs."""
        d = self.__dict__
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

