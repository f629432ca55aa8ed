"""ProcessSemaphore: one FIFO-fair semaphore for every event loop (and thread)
of the process.

Built on libftkit's counting semaphore (``ftkit/sem.h``), whose queue holds
*words*: an acquirer that must wait puts its waiter (the loop and a future,
or a thread's lock) in the semaphore's keep-alive table
(``_keepalive.SlotTable``) and queues the slot's word in C. A release is
one C call that either returns the permit to the count or takes the oldest
queued word out and returns it; the releaser then wakes that waiter: it
resolves the future directly when it runs on the waiter's loop, else through
``loop.call_soon_threadsafe``. The uncontended ``acquire``/``release`` are
one C call each, with no Python lock anywhere.

Permit accounting (the rules the code below keeps):

* A permit handed to a word belongs to that waiter from the moment C
  returned the word. If the waiter's loop is closed (``call_soon_threadsafe``
  raises RuntimeError), the releaser passes the permit on (releases again).
* A waiter that leaves by an exception (cancelled, its coroutine closed,
  KeyboardInterrupt...) withdraws its word: ``ftk_sem_cancel`` == OK means
  it never got a permit; FTK_ENOTFOUND means a release granted it one, and
  the waiter passes that permit on. The two "pass on" paths (releaser after
  a failed wake-up, waiter after a grant it cannot use) are arbitrated by a
  one-element ``claim`` list per waiter: whoever pops it passes the permit on
  (``list.pop`` is atomic, with or without the GIL), so it is passed on
  exactly once.
* The waiter keeps its slot until it leaves; the releaser reads the waiter
  object and then checks the slot's word (a versioned table), so a waiter
  that already left (and passed its permit on) is never woken by mistake
  and its reused slot never confuses a late releaser.
"""
from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Any

from ._common import Native, as_int64, lib, release_handle, same
from ._compat import ShutDown
from ._keepalive import GEN as _GEN
from ._keepalive import INDEX_MASK, SlotTable
from ._keepalive import WORD_MASK as _WORD_MASK
from ._lib import BadHandleError, FtkitError, raise_status
from ._wait import check_timeout

__all__ = ["ProcessSemaphore"]

_try = lib.ftk_sem_try_acquire
_enqueue = lib.ftk_sem_acquire_or_enqueue
_release_v = lib.ftk_sem_release_word
_cancel = lib.ftk_sem_cancel
_value = lib.ftk_sem_value
_waiters = lib.ftk_sem_waiters
_initial = lib.ftk_sem_initial
_last = lib.ftk_sem_last
_QUEUED = lib.FTK_SEM_QUEUED
_ENOTFOUND = lib.FTK_ENOTFOUND
_EOVERFLOW = lib.FTK_EOVERFLOW
_EBADHANDLE = lib.FTK_EBADHANDLE
_M63 = (1 << 63) - 1  # C words are positive int64s; table words may use bit 63
_get_running_loop = asyncio.events._get_running_loop
_monotonic = time.monotonic
_PENDING: Any = object()  # "the C call ran, its result was not stored yet"
_CLOSE_LOCK = threading.Lock()


def _wake(fut: "asyncio.Future[bool]") -> None:
    if not fut.done():
        fut.set_result(True)


def _fail(fut: "asyncio.Future[bool]") -> None:
    if not fut.done():
        fut.set_exception(ShutDown("the ProcessSemaphore was closed"))


def _note_completed(exc: BaseException) -> None:
    """Tell the caller of an interrupted release() that it completed."""
    note = getattr(exc, "add_note", None)  # 3.11+
    if note is not None:
        note("the release completed before the interrupt: do not release again")


def _grant_async(loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[bool]") -> bool:
    """Wake a parked task: False if its loop is closed (nobody will run it)."""
    try:
        if _get_running_loop() is loop:
            # On the waiter's own loop: resolve now (its callbacks go through
            # call_soon); the threadsafe route would add a self-pipe write to
            # wake a selector that is not asleep.
            if not fut.done():
                fut.set_result(True)
        else:
            loop.call_soon_threadsafe(_wake, fut)
    except RuntimeError:  # the loop is closed
        return False
    return True


def _shut_async(loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[bool]") -> None:
    try:
        if _get_running_loop() is loop:
            _fail(fut)
        else:
            loop.call_soon_threadsafe(_fail, fut)
    except RuntimeError:
        pass


class _ThreadWaiter:
    """A thread parked in ``acquire_blocking``: a lock it holds until woken."""

    __slots__ = ("lock", "closed")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.closed = False

    def grant(self) -> bool:
        try:
            self.lock.release()
        except RuntimeError:  # woken already (a hand-over finished twice)
            pass
        return True

    def shut(self) -> None:
        self.closed = True
        try:
            self.lock.release()
        except RuntimeError:  # already granted
            pass


class ProcessSemaphore(Native):
    """A FIFO-fair semaphore shared by the coroutines of every event loop
    (one per thread, say) and by plain threads.

    >>> import asyncio
    >>> sem = ProcessSemaphore(2)
    >>> async def work(i):
    ...     async with sem:
    ...         await asyncio.sleep(0)
    ...         return i
    >>> async def main():
    ...     return await asyncio.gather(*(work(i) for i in range(5)))
    >>> asyncio.run(main())
    [0, 1, 2, 3, 4]
    >>> sem.value(), sem.waiters()
    (2, 0)

    ``await acquire()`` takes a permit or parks the task (not its thread) in
    one FIFO queue shared with every loop: an arriving acquirer never barges
    past a queued one. ``release()`` may be called from any thread or loop;
    it hands the permit to the oldest waiter. A waiter that is cancelled
    loses its place; if it was cancelled just after a release granted it,
    the permit passes on to the next waiter (or back to the count). A waiter
    whose event loop was closed is skipped the same way. Releasing more
    often than acquiring raises ValueError.

    ``acquire_blocking(timeout=None)`` is the same for plain threads (it
    queues FIFO with the tasks). Not picklable (it owns native state).
    """

    _table: SlotTable
    # set per instance by _install_fast_paths (a view's are its thread's copies)
    _f_try: Any
    _f_release: Any

    def __init__(self, value: int) -> None:
        v = as_int64(value, "value")
        if v < 1:
            raise ValueError(f"value must be >= 1, got {value!r}")
        d = self.__dict__
        d["_table"] = SlotTable(versioned=True)
        d["_closed"] = False
        self._own(lib.ftk_sem_new, lib.ftk_sem_free, v)  # _owner, _h; local(); no pickling

    def _install_fast_paths(self, fn: Any = same) -> None:
        """The uncontended acquire and release call these: the module's C
        functions (``same``) or, in a view (local()), its thread's copies."""
        d = self.__dict__
        d["_f_try"] = fn(_try)
        d["_f_release"] = fn(_release_v)

    # -- asyncio ------------------------------------------------------------
    async def acquire(self) -> bool:
        """Take a permit, waiting (FIFO) if none is free; returns True like
        ``asyncio.Semaphore.acquire``. Must run in an event loop's task."""
        h = self._h
        try:
            if self._f_try(h) == 0:
                return True
        except BaseException:  # interrupted right after the C call returned
            self._undo_try(h)
            raise
        # Slow path, inline (a helper coroutine would cost one more frame and
        # coroutine object per wait). A parked task is the tuple (loop,
        # future, claim) in a slot of the versioned table.
        loop = _get_running_loop()
        if loop is None:
            raise RuntimeError("ProcessSemaphore.acquire() must be awaited in an event loop")
        fut = loop.create_future()
        claim = [None]
        table = self._table
        try:
            i = table.free.pop()
        except IndexError:
            i = table.take_index()
        table.objs[i] = (loop, fut, claim)
        wfull = table.words[i]
        w = wfull & _M63
        st: Any = None
        try:
            st = _PENDING
            st = _enqueue(h, w)
            if st == _QUEUED:
                await fut
            elif st != 0:
                raise_status(st, "acquire", "ProcessSemaphore")
            return True
        except BaseException:
            if st is _PENDING or st == _QUEUED:
                self._withdraw(w, claim)  # a no-op once closed (the handle is gone)
            raise
        finally:
            # release the slot (versioned: new generation first); no call
            # here, so no interrupt can land after the result is decided
            table.words[i] = (wfull + _GEN) & _WORD_MASK
            table.objs[i] = None
            free = table.free
            free += (i,)

    def _undo_try(self, h: Any) -> None:
        """An interrupt landed right after ``ftk_sem_try_acquire`` returned:
        give back the permit it took, if it took one (the call then had no
        effect)."""
        if _last(h) == 0:
            self.release()

    def _withdraw(self, w: int, claim: list | None) -> None:
        """A waiter leaves by an exception: take its word out of the queue,
        or, if a release granted it a permit meanwhile, pass that on."""
        st = _cancel(self._h, w)
        if st != _ENOTFOUND:
            return  # removed (never granted), or the semaphore is closed
        if claim is not None:
            try:
                claim.pop()
            except IndexError:
                return  # the releaser could not wake us and passed it on
        try:
            self.release()
        except BadHandleError:
            pass  # closed meanwhile: nobody left to pass it to

    def release(self) -> None:
        """Give a permit back: to the oldest waiter (task or thread), else to
        the count. Any thread, any loop, or no loop. ValueError if that would
        exceed the initial value (released more often than acquired)."""
        h = self._h
        r: Any = _PENDING
        try:
            r = self._f_release(h)
            if r == 0:
                return
            if r > 0:
                # the common hand-overs inline: a task of the running loop, or
                # of another loop (the general path is _handoff)
                table = self._table
                i = r & INDEX_MASK
                waiter = table.objs[i]
                if (table.words[i] & _M63) == r and type(waiter) is tuple:
                    loop, fut = waiter[0], waiter[1]
                    if _get_running_loop() is loop:
                        if not fut.done():
                            fut.set_result(True)
                        return
                    try:
                        loop.call_soon_threadsafe(_wake, fut)
                        return
                    except RuntimeError:
                        pass  # its loop is closed: the general path passes it on
            # inside the try: an interrupt at _handoff's entry is finished too
            self._handoff(r, True)
        except BaseException as exc:
            self._finish(h, r, exc)
            raise

    def _finish(self, h: Any, r: Any, exc: BaseException) -> None:
        """An interrupt landed after the C release ran: finish the hand-over
        (waking a waiter twice is harmless: it checks its future / lock), so
        the release completed, and say so on the exception."""
        if r is _PENDING:
            r = _last(h)
        if isinstance(r, int) and r >= 0:
            if r > 0:
                self._handoff(r, noted=True)
            _note_completed(exc)

    def _handoff(self, r: int, noted: bool = False) -> None:
        h = self._h
        table = self._table
        try:
            while True:
                if r < 0:
                    if r == _EOVERFLOW:
                        raise ValueError("release() called more times than acquire()")
                    raise_status(r, "release", "ProcessSemaphore")
                i = r & INDEX_MASK
                waiter = table.objs[i]  # the object first, then its word (module doc)
                if (table.words[i] & _M63) != r or waiter is None:
                    return  # it left already, having passed the permit on
                if type(waiter) is not tuple:
                    waiter.grant()  # a thread: cannot fail
                    return
                loop, fut, claim = waiter
                if _grant_async(loop, fut):
                    return
                # its loop is closed: pass the permit on, unless it did
                try:
                    claim.pop()
                except IndexError:
                    return
                r = _PENDING
                r = _release_v(h)
                if r == 0:
                    return
        except (ValueError, FtkitError):
            raise
        except BaseException as exc:  # an interrupt: finish the current hand-over
            if r is _PENDING:
                r = _last(h)
            if isinstance(r, int) and r > 0:
                self._handoff(r, noted=True)
            if not noted:
                _note_completed(exc)
            raise

    #: ``async with sem:`` is ``await sem.acquire()`` (``as`` gives True)
    __aenter__ = acquire

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    # -- threads --------------------------------------------------------------
    def acquire_blocking(self, timeout: float | None = None) -> bool:
        """Take a permit from a plain thread, waiting FIFO with the tasks:
        True once held, False if ``timeout`` seconds passed first (None:
        wait forever; 0: only try). Timeouts follow ``threading.Lock``.
        Interruptible (Ctrl-C): an interrupted call took nothing."""
        h = self._h
        try:
            if self._f_try(h) == 0:
                return True
        except BaseException:  # interrupted right after the C call returned
            self._undo_try(h)
            raise
        timeout = check_timeout(timeout)
        if timeout == 0:
            if _value(h) < 0:
                raise_status(_value(h), "acquire_blocking", "ProcessSemaphore")
            return False
        end = None if timeout is None else _monotonic() + timeout
        table = self._table
        waiter = _ThreadWaiter()
        wfull = table.put(waiter)
        i = wfull & INDEX_MASK
        w = wfull & _M63
        st: Any = None
        try:
            st = _PENDING
            st = _enqueue(h, w)
            if st == 0:
                return True
            if st != _QUEUED:
                raise_status(st, "acquire_blocking", "ProcessSemaphore")
            left = -1.0 if end is None else max(0.0, end - _monotonic())
            if waiter.lock.acquire(timeout=left):
                if waiter.closed:
                    raise ShutDown("the ProcessSemaphore was closed")
                return True
            if waiter.closed:
                raise ShutDown("the ProcessSemaphore was closed")
            # timed out: withdraw; not found means granted as we gave up
            cs = _cancel(h, w)
            st = None
            if cs == 0:
                return False
            if cs == _EBADHANDLE:
                raise ShutDown("the ProcessSemaphore was closed")
            return True
        except BaseException:
            if (st is _PENDING or st == _QUEUED) and not waiter.closed:
                self._withdraw(w, None)
            raise
        finally:
            # release the slot without a call (see acquire)
            table.words[i] = (wfull + _GEN) & _WORD_MASK
            table.objs[i] = None
            free = table.free
            free += (i,)

    def __enter__(self) -> "ProcessSemaphore":
        self.acquire_blocking()
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    # -- introspection and lifetime ---------------------------------------------
    def _check(self, v: int, what: str) -> int:
        if v < 0:
            raise_status(v, what, "ProcessSemaphore")
        return v

    def value(self) -> int:
        """Permits free now (0 while anyone waits). A snapshot."""
        return self._check(_value(self._h), "value")

    def waiters(self) -> int:
        """Tasks and threads queued now. A snapshot."""
        return self._check(_waiters(self._h), "waiters")

    def locked(self) -> bool:
        """True when an acquire would wait now (``asyncio.Semaphore.locked``)."""
        return self._check(_value(self._h), "locked") == 0

    def close(self) -> None:
        """Free the C semaphore now. Waiters still queued raise ShutDown
        (tasks from their ``await``, threads from ``acquire_blocking``);
        every later call raises BadHandleError (a ValueError), including a
        ``release()`` by a task that held a permit. Idempotent."""
        with _CLOSE_LOCK:
            d = self.__dict__
            if d["_closed"]:
                return
            d["_closed"] = True
            release_handle(d["_owner"])  # ftk_sem_free: queued words dropped
        for waiter in list(self._table.objs):
            if type(waiter) is tuple:
                _shut_async(waiter[0], waiter[1])
            elif waiter is not None:
                waiter.shut()

    def __repr__(self) -> str:
        try:
            return (f"<{type(self).__name__} value={self.value()}/{_initial(self._h)} "
                    f"waiters={self.waiters()}>")
        except BadHandleError:
            return f"<{type(self).__name__} (closed)>"

