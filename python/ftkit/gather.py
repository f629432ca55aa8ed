"""ConcurrentGatheringIterator: ordered fan-in over libftkit's gathering table.

Producers ``insert(key, value)`` from any thread in any order; a consumer
iterates the values of keys 0, 1, ..., max_key in key order, blocking until
each is present. The C table (gather.h) is striped by key: inserts of
neighbouring keys take different stripe locks and share no lock or counter,
and a waiting consumer sleeps in C until the insert of exactly the key it
waits for wakes it (the key is published; an insert of another key does not
wake it). Values are kept alive by the object's own versioned SlotTable
(ftkit._keepalive): the word C stores is the value's slot word.

Compared with ft_utils' version (a ConcurrentDict plus one Condition that
every insert takes and notifies, with 10 ms timed waits): no shared lock on
insert, no polling, one C call per insert and one per consumer step;
``iterator(..., timeout=)`` raises TimeoutError; ``close()`` cancels blocked
readers (ShutDown); a failed insert makes iterators raise RuntimeError
chained to the insert's exception; inserting a key that is present raises
ValueError instead of overwriting.

Interrupt safety: a clearing iterator interrupted (KeyboardInterrupt or any
exception raised by a signal handler), or closed, puts the values it took
out of C but did not yield back (ftk_gather_insert_run), and an interrupted
sleep takes nothing, so the value of the key being waited for stays in the
table.
"""
from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from typing import Any, Callable, Generic, TypeVar

from ._common import INT64_MAX, INT64_MIN, Native, as_int64, lib, release_handle, same
from ._compat import ShutDown
from ._keepalive import GEN as _GEN
from ._keepalive import INDEX_MASK as _M
from ._keepalive import WORD_MASK as _WM
from ._keepalive import SlotTable
from ._lib import BadHandleError, ffi, status_error
from ._wait import check_timeout, deadline, slice_ns
from .local import LocalWrapper

__all__ = ["ConcurrentGatheringIterator"]

T = TypeVar("T")

_insert = lib.ftk_gather_insert
_take_run = lib.ftk_gather_take_run
_get_run = lib.ftk_gather_get_run
_BATCH = 64  # most values one consumer call takes out of C
_insert_run = lib.ftk_gather_insert_run
_NULL = ffi.NULL
_unpack = ffi.unpack
_fail = lib.ftk_gather_fail
_state = lib.ftk_gather_state
_last = lib.ftk_last_status
_last_result = lib.ftk_last_result
_OK = lib.FTK_OK
_EEMPTY = lib.FTK_EEMPTY
_ETIMEDOUT = lib.FTK_ETIMEDOUT
_ECLOSED = lib.FTK_ECLOSED
_EINTR = lib.FTK_EINTR
_EBUSY = lib.FTK_EBUSY
_EOVERFLOW = lib.FTK_EOVERFLOW
_EBADHANDLE = lib.FTK_EBADHANDLE
_FAILED = lib.FTK_GATHER_FAILED
_NAME = "ConcurrentGatheringIterator"
_FAILED_MSG = "Iterator insertion failed: an insert into this ConcurrentGatheringIterator raised"
_CLOSED_MSG = "the ConcurrentGatheringIterator is closed"

# One close at a time per process (close is rare; makes it idempotent
# across threads and views without a per-object lock).
_close_lock = threading.Lock()


def _as_key(key: Any) -> int:
    return as_int64(key, "key")


def _mark_failed(h: Any, failure: list, exc: BaseException) -> None:
    """Record why an insert failed (the first one is kept, for __cause__,
    until close()), then set C's flag, which wakes the consumers (they raise
    RuntimeError). A closed gatherer has no consumers left: nothing to do."""
    if isinstance(exc, BadHandleError):
        return
    if not failure:
        failure.append(exc)
    _fail(h)


def _insert_raised(slots: SlotTable, h: Any, failure: list, i: int, key: Any, calling: bool,
                   exc: BaseException) -> None:
    """An exception escaped an insert (a bad key, or an interrupt). If the C
    insert ran and the value went in, the insert completed: say so on the
    exception and leave the value to the consumer. Otherwise give the slot
    back and fail the gatherer."""
    ran = calling and type(key) is int and INT64_MIN <= key <= INT64_MAX
    if ran and _last_result() == 1:
        exc.add_note("the insert completed before the interrupt: the value is in the "
                     "ConcurrentGatheringIterator")
        return
    if i:
        slots.objs[i] = None
        slots.free.append(i)
    _mark_failed(h, failure, exc)


def _insert_failed(slots: SlotTable, h: Any, failure: list, i: int, key: int, st: int) -> None:
    """The C insert refused the value (status st): give the slot back, fail
    the gatherer, raise."""
    slots.objs[i] = None
    slots.free.append(i)
    exc: BaseException
    if st == _EBUSY:
        exc = ValueError(f"key {key} is already present in the ConcurrentGatheringIterator")
    elif st == _ECLOSED or st == _EBADHANDLE:
        exc = status_error(_EBADHANDLE, "insert", _NAME)  # BadHandleError: "... is closed"
    else:  # FTK_ENOMEM (MemoryError); no other status is documented
        exc = status_error(st, "insert", _NAME)
    _mark_failed(h, failure, exc)
    raise exc


def _stopped(h: Any, failure: list, st: int) -> BaseException:
    """The exception for a consumer step that C refused with status st."""
    if st == _ECLOSED:
        state = _state(h)
        if state >= 0 and state & _FAILED:
            err = RuntimeError(_FAILED_MSG)
            err.__cause__ = failure[0] if failure else None
            return err
        return ShutDown(_CLOSED_MSG)
    if st == _EBADHANDLE:
        return ShutDown(_CLOSED_MSG)
    return RuntimeError(f"ConcurrentGatheringIterator: status {st}")  # pragma: no cover


def _wait(h: Any, key: int, m: int, buf: Any, got: Any, fn: Any, dl: float | None,
          timeout: Any, failure: list, st: int) -> int:
    """The non-waiting step found key absent (status st): wait for it in
    slices (signal handlers run between them), up to the deadline; then
    the run of ready keys from it, as fn does."""
    while True:
        if st != _EEMPTY and st != _ETIMEDOUT and st != _EINTR:
            raise _stopped(h, failure, st)
        ns = slice_ns(dl)
        if ns == 0:
            raise TimeoutError(f"key {key} was not inserted within {timeout} seconds")
        n = fn(h, key, m, buf, ns, got)
        if n > 0:
            return n
        st = n


class _Run:
    """The run a clearing iterator took out of C: keys ``key``..``key +
    got[0] - 1``, words in ``buf``, the first ``j`` already yielded (their
    slots released). ``put_back`` gives the rest back to C; it runs from
    the iterator's exception handler, and from ``__del__`` when the
    generator's frame goes away without that handler having run (on
    CPython 3.13 an exception raised by a signal handler at the point where
    a generator resumes after a yield leaves it without running its
    handlers: measured, about 60% of such interrupts)."""

    __slots__ = ("h", "buf", "got", "key", "j")

    def __init__(self, h: Any, buf: Any, got: Any) -> None:
        self.h = h
        self.buf = buf
        self.got = got
        self.key = 0
        self.j = 0

    def put_back(self) -> None:
        got = self.got
        n = got[0]
        j = self.j
        got[0] = 0  # once
        if j < n:
            _insert_run(self.h, self.key + j, self.buf + j, n - j, _NULL)

    def __del__(self) -> None:
        if self.got[0]:
            try:
                self.put_back()
            except Exception:  # noqa: BLE001 - interpreter shutdown: nothing to give back to
                pass


def _iterate(h: Any, owner: Any, slots: SlotTable, failure: list, start: int, max_key: int,
             clear: bool, timeout: Any) -> Iterator[Any]:
    """The consumer. One C call takes (or reads) the whole run of ready
    consecutive keys, up to _BATCH, waiting for the first one only if it is
    absent (sliced waits); the values are then yielded one by one. ``owner``
    keeps the C object alive for as long as the generator exists."""
    if not clear:
        return _read(h, owner, slots, failure, start, max_key, timeout)
    return _take(h, owner, slots, failure, start, max_key, timeout)


def _take(h: Any, owner: Any, slots: SlotTable, failure: list, start: int, max_key: int,
          timeout: Any) -> Iterator[Any]:
    objs = slots.objs
    words = slots.words
    free = slots.free
    tups: Any = slots.tups  # (i,) per slot: see SlotTable.tups
    M, GEN, WM, take_run, unpack, B = _M, _GEN, _WM, _take_run, _unpack, _BATCH  # locals
    buf = ffi.new("uint64_t[]", _BATCH)
    got = ffi.new("size_t *")
    run = _Run(h, buf, got)
    key = start
    while key <= max_key:
        # Interrupt safety (docs/design.md section 10). The words C handed
        # over are in ``buf`` and their count in ``got[0]`` (stored by C, so
        # known even if an interrupt lands before the return value is);
        # ``run.j`` counts the values yielded. Between releasing a value's
        # slot, ``run.j = j`` and the yield there is no call, so no signal
        # handler runs there. Whatever ends the generator early (an
        # interrupt, the caller closing it at a yield, the frame dropped
        # after an exception) puts the rest of the run back into C.
        j = 0
        run.key = key
        run.j = 0
        try:
            m = max_key - key + 1
            if m > B:
                m = B
            n = take_run(h, key, m, buf, 0, got)
            if n <= 0:
                n = _wait(h, key, m, buf, got, take_run, deadline(timeout), timeout, failure, n)
            ws = (buf[0],) if n == 1 else unpack(buf, n)  # a consumer that keeps up: runs of 1
            while j < n:
                w = ws[j]
                i = w & M
                obj = objs[i]
                words[i] = (w + GEN) & WM  # before the index can be reused
                objs[i] = None
                fl = free
                fl += tups[i]
                j += 1
                run.j = j
                yield obj
        except BaseException:
            run.put_back()
            raise
        got[0] = 0  # all yielded
        key += j


def _read(h: Any, owner: Any, slots: SlotTable, failure: list, start: int, max_key: int,
          timeout: Any) -> Iterator[Any]:
    objs = slots.objs
    words = slots.words
    buf = ffi.new("uint64_t[]", _BATCH)
    key = start
    while key <= max_key:
        m = max_key - key + 1
        if m > _BATCH:
            m = _BATCH
        n = _get_run(h, key, m, buf, 0, _NULL)
        if n <= 0:
            n = _wait(h, key, m, buf, _NULL, _get_run, deadline(timeout), timeout, failure, n)
        j = 0
        while j < n:
            w = buf[j]
            i = w & _M
            obj = objs[i]
            if words[i] != w:
                # A clearing iterator took this key after our read (its slot
                # was released, maybe reused): the key is gone; wait for it
                # again, as if we had come a little later.
                break
            j += 1
            yield obj
        key += j


class ConcurrentGatheringIterator(Native, Generic[T]):
    """Ordered fan-in: values inserted under integer keys from any thread in
    any order, read back in key order.

    >>> g = ConcurrentGatheringIterator()
    >>> g.insert(1, "b"); g.insert(0, "a"); g.insert(2, "c")
    >>> list(g.iterator(2))
    ['a', 'b', 'c']

    ``insert(key, value)`` may be called from any thread; keys are ints in
    the int64 range (OverflowError outside it, TypeError for non-ints); a
    key that is present already raises ValueError. ``iterator(max_key)``
    yields the values of keys 0..max_key in order, waiting for each;
    ``iterator_local`` yields them wrapped in LocalWrapper.

    If an insert raises (a bad key, a duplicate key, MemoryError, an
    interrupt that stopped it, or the object was closed), the gatherer is
    marked failed: every iterator step from then on raises RuntimeError
    whose ``__cause__`` is that exception, and the inserting thread gets
    the exception itself.

    ``close()`` releases every value and wakes blocked iterators, which
    raise ShutDown. Not picklable (it owns native state).
    """

    _h: Any
    _owner: Any

    def __init__(self, scaling: int | None = None) -> None:
        if scaling is None:
            n = 0
        else:
            n = as_int64(scaling, "scaling")
            if n < 1:
                raise ValueError("scaling must be a positive integer or None")
        if "_open" in self.__dict__:
            self.close()  # __init__ called again: start over
        self._scaling = scaling
        # Versioned: a clear=False iterator reads words it does not own (a
        # clearing iterator may take and release the same key meanwhile).
        self._slots = SlotTable(versioned=True, capacity=64, tuples=True)
        self._failure: list[BaseException] = []
        self._own(lib.ftk_gather_new, lib.ftk_gather_free, n)  # _owner, _h, fast paths
        self._open = True

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """Install insert as a closure over the object's state (no attribute
        loads, no reference to self: no cycle) and ``fn`` of the C insert.
        Also run by local_view for a view (with thread_copy). A subclass that
        overrides insert keeps its override."""
        if type(self).insert is not ConcurrentGatheringIterator.insert:
            return
        h, slots, owner, failure = self._h, self._slots, self._owner, self._failure
        objs, words, free, take_index = slots.objs, slots.words, slots.free, slots.take_index
        # closure cells, not globals: on 3.13t every global or builtin load
        # is a dict lookup (no specialisation)
        c_insert, _type, _int = fn(_insert), type, int

        def insert(key: int, value: T) -> None:
            i = 0
            calling = False
            try:
                if _type(key) is not _int:
                    key = _as_key(key)
                try:
                    i = free.pop()
                except IndexError:
                    i = take_index()
                objs[i] = value
                calling = True  # no interrupt can arrive between here and the call
                st = c_insert(h, key, words[i])
            except BaseException as e:
                _insert_raised(slots, h, failure, i, key, calling, e)
                raise
            if st:
                _insert_failed(slots, h, failure, i, key, st)

        insert.__doc__ = ConcurrentGatheringIterator.insert.__doc__
        insert.__name__ = "insert"
        insert._owner = owner  # type: ignore[attr-defined]  # keeps the C object
        self.__dict__["insert"] = insert

    # -- producers ------------------------------------------------------------
    def insert(self, key: int, value: T) -> None:
        """Insert ``value`` under ``key``; wakes the iterator waiting for it.

        ValueError if the key is present; TypeError/OverflowError for a key
        that is not an int64; BadHandleError after close(). Any exception
        here marks the gatherer failed (iterators raise RuntimeError)."""
        self.__dict__["insert"](key, value)  # pragma: no cover - replaced per instance

    # -- consumers ------------------------------------------------------------
    def iterator(self, max_key: int, clear: bool = True, timeout: float | None = None,
                 start: int = 0) -> Iterator[T]:
        """Yield the values of keys start..max_key (start is 0 unless given)
        in order, waiting for each.

        ``clear=True`` removes each value as it is yielded; ``clear=False``
        leaves them, so a later iterator yields them again. ``timeout``:
        None waits as long as it takes; otherwise a key not inserted within
        ``timeout`` seconds of the step starting to wait raises TimeoutError
        (the iterator is then finished; values not yet yielded stay, and
        ``iterator(max_key, start=next_key)`` resumes, as after Ctrl-C).
        Raises RuntimeError (chained to the insert's exception) once an
        insert failed, and ShutDown if the gatherer is closed.
        """
        max_key = as_int64(max_key, "max_key")
        start = as_int64(start, "start")
        check_timeout(timeout)
        return _iterate(self._h, self._owner, self._slots, self._failure, start, max_key,
                        bool(clear), timeout)

    def iterator_local(self, max_key: int, clear: bool = True, timeout: float | None = None,
                       start: int = 0) -> Iterator[LocalWrapper[T]]:
        """``iterator`` whose values come wrapped in ``LocalWrapper``."""
        it = self.iterator(max_key, clear, timeout, start)
        return (LocalWrapper(v) for v in it)

    # -- state ------------------------------------------------------------------
    @property
    def failed(self) -> bool:
        """Whether an insert failed (iterators raise RuntimeError)."""
        return bool(self._failure) or (_state(self._h) > 0 and bool(_state(self._h) & _FAILED))

    def close(self) -> None:
        """Release every value still inside and free the C object.
        Idempotent. Iterators blocked or resumed afterwards raise ShutDown;
        inserts raise BadHandleError (a ValueError)."""
        with _close_lock:
            if self.__dict__.pop("_open", None) is None:
                return
            h = self._h
            if lib.ftk_gather_close(h) == _OK:  # no insert can slip in after this
                self._drain(h)
            release_handle(self._owner)
            self._failure.clear()  # iterators now raise ShutDown, not RuntimeError

    def _drain(self, h: Any) -> None:
        slots = self._slots
        got = ffi.new("size_t *")
        while True:
            n = max(lib.ftk_gather_len(h), 0) + 16
            buf = ffi.new("uint64_t[]", n)
            st = lib.ftk_gather_drain(h, buf, n, got)
            slots.release_many(ffi.unpack(buf, got[0]))
            if st != _EOVERFLOW:
                return

    def __enter__(self) -> "ConcurrentGatheringIterator[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        st = _state(self._h)
        if st < 0:
            return f"<{type(self).__name__} closed>"
        n = lib.ftk_gather_len(self._h)
        failed = " failed" if st & _FAILED else ""
        return f"<{type(self).__name__}{failed} holding {max(n, 0)} values>"

    __class_getitem__: Any = classmethod(types.GenericAlias)

