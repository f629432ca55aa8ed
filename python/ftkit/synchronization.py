"""Locks over libftkit's ``sync.h``: RWLock and IntervalLock (ft_utils layout).

``from ftkit.synchronization import RWLock, RWReadContext, RWWriteContext,
IntervalLock`` is ft_utils 0.2.0's API; ftkit adds ``timeout=`` on every
acquire (True when acquired, False on timeout, like
``threading.Lock.acquire``), the ``rw.read()`` / ``rw.write()`` context
managers, RuntimeError for misuse (releasing what the calling thread does not
hold, upgrading a read hold, re-locking), waits that Ctrl-C interrupts, and
``rw.local()``: a thread-owned view for the read path.

Ownership is per OS thread and kept by C (docs/design.md section 11): the
library knows which thread holds what, so misuse is an error code, never a
corrupted lock.

Hot paths. Every method that takes or releases a lock is a closure made by a
module-level factory over the lock's *call handle* (``_common.call_handle``)
and installed on the instance (on each view, over the view's own handle
cdata): one Python frame around one C call. The acquire's first call is a
try (timeout 0); only when that fails does the call wait, in slices of
``_wait.WAIT_SLICE`` with the deadline re-checked between slices, so signal
handlers run while a thread waits.

Interrupts (docs/design.md section 10: an interrupted call either completed
or had no effect). CPython runs a signal handler right after a call returns,
so a KeyboardInterrupt can arrive after the C call took the lock and before
the acquire returned. The acquire's handler then gives the lock back before
re-raising: the interrupted acquire had no effect, and ``with lock:`` (whose
``__exit__`` never runs when ``__enter__`` raises) leaves nothing held. What
was taken is known from C: a try that fails never fails for a thread that
already holds the read lock (nested reads never wait), and a write lock or
interval lock cannot be taken twice, so "the caller holds it (more) after
the call" means "this call took it". An interrupted ``cede``/``poll``, whose
caller gave the lock up for a moment, re-acquires it before re-raising (the
caller holds it, as ``with`` expects); that re-acquisition waits in slices
and keeps waiting through further signals (the thread holding the lock
meanwhile is expected to release it soon: it is a waiter that was let in).
Limit (as for the queues): one interrupt at a time; a second one landing
inside the recovery of a nested read acquire can leave one nesting level
taken or released.
"""
from __future__ import annotations

from typing import Any, Callable

from ._common import Native, call_handle, lib, owned_handle, refuse_pickle, same, thread_copy
from ._lib import ffi, raise_status
from ._wait import SLICE_NS, check_timeout, deadline as _deadline, expired as _expired
from ._wait import slice_ns as _slice

__all__ = ["RWLock", "RWReadContext", "RWWriteContext", "IntervalLock"]

_OK = lib.FTK_OK
_EBUSY = lib.FTK_EBUSY
_EPERM = lib.FTK_EPERM
_WAIT_AGAIN = frozenset((lib.FTK_EBUSY, lib.FTK_ETIMEDOUT, lib.FTK_EINTR))

_rd_lock = lib.ftk_rwlock_read_lock
_rd_unlock = lib.ftk_rwlock_read_unlock
_wr_lock = lib.ftk_rwlock_write_lock
_wr_unlock = lib.ftk_rwlock_write_unlock
_rd_held = lib.ftk_rwlock_read_held
_wr_held = lib.ftk_rwlock_write_held
_il_lock = lib.ftk_ilock_lock
_il_unlock = lib.ftk_ilock_unlock
_il_poll = lib.ftk_ilock_poll
_il_cede = lib.ftk_ilock_cede
_il_held = lib.ftk_ilock_held
_il_locked = lib.ftk_ilock_locked

# -- misuse messages (EPERM) -------------------------------------------------------

_PERM = {
    "RWLock.lock_read": "the calling thread holds this RWLock's write lock "
                        "(reading under one's own write lock would deadlock; "
                        "unlock_write first)",
    "RWLock.unlock_read": "the calling thread holds no read lock on this RWLock",
    "RWLock.lock_write": "the calling thread already holds this RWLock (for "
                         "writing, or for reading: upgrading a read lock would "
                         "deadlock; unlock_read first)",
    "RWLock.unlock_write": "the calling thread does not hold this RWLock's write lock",
    "IntervalLock.lock": "the calling thread already holds this IntervalLock "
                         "(it is not reentrant: locking it again would deadlock)",
    "IntervalLock.unlock": "the calling thread does not hold this IntervalLock",
    "IntervalLock.poll": "the calling thread does not hold this IntervalLock",
    "IntervalLock.cede": "the calling thread does not hold this IntervalLock",
}


def _fail(st: int, what: str) -> Any:
    """Raise for a status an operation cannot handle (never returns)."""
    if st == _EPERM:
        raise RuntimeError(f"{what}: {_PERM[what]}")
    raise_status(st, what, what.partition(".")[0] or "lock")


# -- the sliced waits (entered only after a try failed) ------------------------------

def _wait(fn: Any, h: Any, timeout: Any) -> int:
    """Call ``fn(h, slice)`` until it returns something other than "not yet";
    return that status (OK: acquired) or EBUSY when ``timeout`` ran out."""
    end = _deadline(timeout)
    while True:
        ns = _slice(end)
        st = fn(h, ns)
        if st not in _WAIT_AGAIN:
            return st
        if ns == 0 or _expired(end):
            return _EBUSY
        # a slice ended: signal handlers ran; EINTR (a wake) just retries


def _undo_read(h: Any) -> None:
    # An acquire's handler: "the caller holds a read lock now" <=> "this call
    # took one". A caller that held one before gets its nested try at once
    # (nested reads never wait or fail), and the wait runs only after a
    # failed try, that is for a caller that held none.
    if _rd_held(h) > 0:
        _rd_unlock(h)


def _undo_write(h: Any) -> None:
    if _wr_held(h) > 0:
        _wr_unlock(h)


def _undo_ilock(h: Any) -> None:
    if _il_held(h) > 0:
        _il_unlock(h)


def _reacquire_ilock(h: Any) -> None:
    """After an interrupted cede/poll: take the lock back (in slices, through
    further signals) so the caller holds it as before the call."""
    while True:
        try:
            if _il_held(h) > 0:
                return
            st = _il_lock(h, SLICE_NS)
            if st not in _WAIT_AGAIN and st != _OK:
                return  # the lock is gone (closed): nothing to hold
        except BaseException:  # noqa: BLE001 - a further signal: keep going
            continue


# -- method factories ------------------------------------------------------------------

def _lock_read_fn(h: Any, rl: Any = _rd_lock) -> Callable[..., bool]:

    def lock_read(timeout: Any = None) -> bool:
        """Take the read lock (shared), waiting up to ``timeout`` seconds
        (None: forever, 0: a try). True when taken, False on timeout.
        Reentrant (counted). RuntimeError if the calling thread holds the
        write lock."""
        try:
            st = rl(h, 0)
            if st == _OK:
                return True
            if st == _EBUSY:
                st = _wait(rl, h, timeout)
                if st == _OK:
                    return True
        except BaseException:
            try:
                _undo_read(h)
            except BaseException:  # noqa: BLE001 - a second interrupt
                _undo_read(h)
            raise
        if st == _EBUSY:
            return False
        return _fail(st, "RWLock.lock_read")

    return lock_read


def _unlock_read_fn(h: Any, ru: Any = _rd_unlock) -> Callable[[], None]:

    def unlock_read() -> None:
        """Release one read hold of the calling thread (RuntimeError if it
        holds none)."""
        st = ru(h)
        if st:
            _fail(st, "RWLock.unlock_read")

    return unlock_read


def _lock_write_fn(h: Any, wl: Any = _wr_lock) -> Callable[..., bool]:

    def lock_write(timeout: Any = None) -> bool:
        """Take the write lock (exclusive), waiting up to ``timeout`` seconds
        (None: forever, 0: a try). True when taken, False on timeout.
        RuntimeError if the calling thread already holds the lock (read or
        write)."""
        try:
            st = wl(h, 0)
            if st == _OK:
                return True
            if st == _EBUSY:
                st = _wait(wl, h, timeout)
                if st == _OK:
                    return True
        except BaseException:
            try:
                _undo_write(h)
            except BaseException:  # noqa: BLE001 - a second interrupt
                _undo_write(h)
            raise
        if st == _EBUSY:
            return False
        return _fail(st, "RWLock.lock_write")

    return lock_write


def _unlock_write_fn(h: Any, wu: Any = _wr_unlock) -> Callable[[], None]:

    def unlock_write() -> None:
        """Release the write lock (RuntimeError if the calling thread is not
        the writer)."""
        st = wu(h)
        if st:
            _fail(st, "RWLock.unlock_write")

    return unlock_write


def _il_lock_fn(h: Any, il: Any) -> Callable[..., bool]:

    def lock(timeout: Any = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds (None: forever,
        0: a try). True when taken, False on timeout. RuntimeError if the
        calling thread holds it already."""
        try:
            st = il(h, 0)
            if st == _OK:
                return True
            if st == _EBUSY:
                st = _wait(il, h, timeout)
                if st == _OK:
                    return True
        except BaseException:
            try:
                _undo_ilock(h)
            except BaseException:  # noqa: BLE001 - a second interrupt
                _undo_ilock(h)
            raise
        if st == _EBUSY:
            return False
        return _fail(st, "IntervalLock.lock")

    return lock


def _il_unlock_fn(h: Any, iu: Any) -> Callable[[], None]:

    def unlock() -> None:
        """Release the lock (RuntimeError if the calling thread does not
        hold it)."""
        st = iu(h)
        if st:
            _fail(st, "IntervalLock.unlock")

    return unlock


def _il_yield_fn(h: Any, fn: Any, what: str) -> Callable[..., bool]:
    """poll / cede: the C call cedes and re-acquires in one wait of at most a
    slice; if that re-acquisition ran out of time (the caller no longer holds
    the lock), keep re-acquiring in slices."""

    def yield_(timeout: Any = None) -> bool:
        if timeout is not None:
            check_timeout(timeout)
        try:
            st = fn(h, SLICE_NS if timeout is None else 0)
            if st == _OK:
                return True
            if st in _WAIT_AGAIN:
                st = _wait(_il_lock, h, timeout)
                if st == _OK:
                    return True
        except BaseException:
            _reacquire_ilock(h)
            raise
        if st == _EBUSY:
            return False
        return _fail(st, what)

    name = what.rsplit(".", 1)[1]
    yield_.__name__ = name
    yield_.__qualname__ = what
    when = ("if other threads wait and the interval has passed, " if name == "poll"
            else "if other threads wait, ")
    yield_.__doc__ = (f"{what}(timeout=None): {when}"
                      "release the lock, let one waiter in and re-acquire it after that "
                      "waiter (waiting up to ``timeout`` seconds; None: forever). True when "
                      "the caller holds the lock again (or never gave it up), False on "
                      "timeout (the caller no longer holds it). RuntimeError if the "
                      "calling thread does not hold the lock.")
    return yield_


# -- RWLock ---------------------------------------------------------------------------------

class _Ctx:
    """A reusable context manager over two callables (``rw.read()`` /
    ``rw.write()``, RWReadContext, RWWriteContext). Holds no state of its
    own: which thread holds what is in C, so one object serves every thread
    and nesting level."""

    __slots__ = ("_acquire", "_release", "_timeout")

    def __init__(self, acquire: Any, release: Any, timeout: Any = None) -> None:
        self._acquire = acquire
        self._release = release
        self._timeout = timeout

    def __enter__(self) -> None:
        if self._timeout is None:
            self._acquire()
        elif not self._acquire(self._timeout):
            raise TimeoutError(f"lock not acquired within {self._timeout} s")

    def __exit__(self, *exc: Any) -> None:
        self._release()

    __reduce_ex__ = refuse_pickle  # type: ignore[assignment]


class _FastCtx:
    """The reusable ``with`` form without a timeout: ``__enter__`` makes the
    try call itself and falls back to the full acquire only when it fails;
    ``__exit__`` makes the release call itself and falls back to the full
    release (which raises the misuse error) only when it fails. One Python
    frame per side instead of two. ``__enter__`` undoes a hold its try took
    when an interrupt arrives right after it, as the acquire methods do."""

    __slots__ = ("_h", "_try", "_undo", "_acquire", "_rel", "_release", "_owner")

    def __init__(self, owner: Any, h: Any, try_: Any, undo: Any, acquire: Any, rel: Any,
                 release: Any) -> None:
        self._owner = owner
        self._h = h
        self._try = try_
        self._undo = undo
        self._acquire = acquire
        self._rel = rel
        self._release = release

    def __enter__(self) -> None:
        try:
            if not self._try(self._h, 0):
                return
        except BaseException:
            try:
                self._undo(self._h)
            except BaseException:  # noqa: BLE001 - a second interrupt
                self._undo(self._h)
            raise
        self._acquire()

    def __exit__(self, *exc: Any) -> None:
        if self._rel(self._h):
            self._release()

    __reduce_ex__ = refuse_pickle  # type: ignore[assignment]


def _read_ctx(owner: Any, h: Any, lock_read: Any, unlock_read: Any) -> tuple:
    return (owner, h, _rd_lock, _undo_read, lock_read, _rd_unlock, unlock_read)


def _write_ctx(owner: Any, h: Any, lock_write: Any, unlock_write: Any) -> tuple:
    return (owner, h, _wr_lock, _undo_write, lock_write, _wr_unlock, unlock_write)


def _new_ctx(cls: Any, args: tuple) -> Any:
    self = object.__new__(cls)
    _FastCtx.__init__(self, *args)
    return self


_RW_NAMES = ("lock_read", "unlock_read", "lock_write", "unlock_write")


def _busy(h: Any, timeout_ns: int = 0) -> int:
    return _EBUSY  # a "try" that always fails: the context falls back to the methods


def _nothing(h: Any) -> None:
    pass


class _RWMethods(Native):
    """What an RWLock and its thread-owned views share: the per-handle
    closures, made by ``_install`` and kept in ``__dict__`` under
    ``_f_<name>``; each is also installed as the instance's ``<name>`` unless
    the class overrides that method (the override is kept, and
    ``super().lock_read()`` reaches the closure through the methods below)."""

    _h: Any
    _owner: Any

    def _install(self, owner: Any, own_fns: bool = False) -> None:
        """Make this object's closures over a handle cdata of its own. A view
        (``own_fns``) also gets this thread's copies of the four C functions
        (``thread_copy``, the same scheme as every other view), so that
        nothing its calls touch from Python is shared with another thread."""
        h = call_handle(owner)  # a cdata of this object's own (per view)
        fns = [_rd_lock, _rd_unlock, _wr_lock, _wr_unlock]
        if own_fns:
            fns = [thread_copy(f) for f in fns]
        d = self.__dict__
        d["_owner"] = owner
        d["_h"] = h
        cls = type(self)
        plain = True
        for name, factory, c_fn in zip(_RW_NAMES, (_lock_read_fn, _unlock_read_fn,
                                                   _lock_write_fn, _unlock_write_fn), fns):
            fn: Any = factory(h, c_fn)
            fn._owner = owner  # keeps the C lock alive, as a bound method its instance
            d["_f_" + name] = fn
            if getattr(cls, name) is _RWMethods.__dict__[name]:
                d[name] = fn
            else:
                plain = False
        if plain:
            d["_read_ctx"] = _new_ctx(RWReadContext, (owner, h, fns[0], _undo_read,
                                                      d["lock_read"], fns[1], d["unlock_read"]))
            d["_write_ctx"] = _new_ctx(RWWriteContext, (owner, h, fns[2], _undo_write,
                                                        d["lock_write"], fns[3],
                                                        d["unlock_write"]))
        else:  # a subclass overrides a method: contexts go through the methods
            d["_read_ctx"] = d["_write_ctx"] = None

    def _ctx(self, cls: Any) -> Any:
        """A context of ``cls`` whose enter/exit call this object's (possibly
        overridden) methods: made per use, so that no reference cycle through
        bound methods is kept."""
        if issubclass(cls, RWReadContext):
            acq, rel = self.lock_read, self.unlock_read
        else:
            acq, rel = self.lock_write, self.unlock_write
        return _new_ctx(cls, (self._owner, self._h, _busy, _nothing, acq, _busy, rel))

    # The methods, for subclasses that override them (super()) and for
    # lookups through the class; instances use the closures directly.
    def lock_read(self, timeout: Any = None) -> bool:
        """Take the read lock (shared), waiting up to ``timeout`` seconds
        (None: forever, 0: a try). True when taken, False on timeout."""
        return self.__dict__["_f_lock_read"](timeout)

    def unlock_read(self) -> None:
        """Release one read hold of the calling thread."""
        return self.__dict__["_f_unlock_read"]()

    def lock_write(self, timeout: Any = None) -> bool:
        """Take the write lock (exclusive), waiting up to ``timeout`` seconds
        (None: forever, 0: a try). True when taken, False on timeout."""
        return self.__dict__["_f_lock_write"](timeout)

    def unlock_write(self) -> None:
        """Release the write lock."""
        return self.__dict__["_f_unlock_write"]()

    def read(self, timeout: Any = None) -> _Ctx:
        """``with rw.read():`` holds the read lock for the block. With a
        ``timeout``, entering raises TimeoutError if the lock was not taken
        in time."""
        if timeout is None:
            return self.__dict__["_read_ctx"] or self._ctx(RWReadContext)
        check_timeout(timeout)
        return _Ctx(self.lock_read, self.unlock_read, timeout)

    def write(self, timeout: Any = None) -> _Ctx:
        """``with rw.write():`` holds the write lock for the block (timeout
        as for ``read``)."""
        if timeout is None:
            return self.__dict__["_write_ctx"] or self._ctx(RWWriteContext)
        check_timeout(timeout)
        return _Ctx(self.lock_write, self.unlock_write, timeout)

    def readers(self) -> int:
        """How many threads hold the read lock now (a racy snapshot; nested
        holds count once)."""
        n = lib.ftk_rwlock_readers(self._h)
        if n < 0:
            raise_status(n, "RWLock.readers", "RWLock")
        return n

    def writers_waiting(self) -> int:
        """How many writers wait to acquire (a racy snapshot)."""
        n = lib.ftk_rwlock_writers_waiting(self._h)
        if n < 0:
            raise_status(n, "RWLock.writers_waiting", "RWLock")
        return n

    def writer_locked(self) -> bool:
        """True if a writer holds the lock (or is taking it)."""
        n = lib.ftk_rwlock_writer_locked(self._h)
        if n < 0:
            raise_status(n, "RWLock.writer_locked", "RWLock")
        return bool(n)

    def read_held(self) -> int:
        """The calling thread's read nesting depth (0: it holds no read lock)."""
        n = _rd_held(self._h)
        if n < 0:
            raise_status(n, "RWLock.read_held", "RWLock")
        return n

    def write_held(self) -> bool:
        """True if the calling thread holds the write lock."""
        n = _wr_held(self._h)
        if n < 0:
            raise_status(n, "RWLock.write_held", "RWLock")
        return bool(n)


class RWLock(_RWMethods):
    """A reader-writer lock: many readers or one writer.

    >>> rw = RWLock()
    >>> with rw.read():          # or rw.lock_read() ... rw.unlock_read()
    ...     rw.readers()
    1
    >>> rw.lock_write(timeout=1.0)
    True
    >>> rw.unlock_write()

    Writer-preferring (once a writer waits, new readers wait, so writers are
    not starved) with a bounded wait for readers (a reader waits for at most
    one writer after the one it queued behind). Readers scale: an
    uncontended read acquire/release writes only the calling thread's own
    record. Read holds are reentrant and counted; a thread holding the write
    lock cannot take the read lock, and a reader cannot upgrade (both raise
    RuntimeError, as does releasing what the thread does not hold). A thread
    that exits holding read locks releases them; a write hold stays held.

    ``lock_read``/``lock_write`` take ``timeout`` (seconds; None waits
    forever, 0 is a try) and return True, or False on timeout; ft_utils code
    that ignores the result is unchanged. On many threads, give each thread
    its own view, ``mine = rw.local()``, made by the thread that uses it.
    """

    def __init__(self) -> None:
        self._install(owned_handle(lib.ftk_rwlock_new, lib.ftk_rwlock_free))

    def local(self) -> "RWLockView":  # type: ignore[override]  # a view class of its own
        """A thread-owned view of this lock, for the thread that calls this:
        the same lock (same methods), through callables and a handle object
        that only this thread touches, so threads do not contend on shared
        Python reference counts (free-threaded builds). Used from another
        thread it is still correct (C knows the calling thread), just not
        thread-owned."""
        return RWLockView(self)

    def __repr__(self) -> str:
        try:
            state = (f"writer_locked={self.writer_locked()} readers={self.readers()} "
                     f"writers_waiting={self.writers_waiting()}")
        except Exception:  # noqa: BLE001
            state = "unavailable"
        return f"<ftkit.RWLock {state}>"


class RWLockView(_RWMethods):
    """``rw.local()``: the same lock, through objects the creating thread
    owns (see ``RWLock.local``). ``view.lock`` is the RWLock."""

    def __init__(self, lock: RWLock) -> None:
        if not isinstance(lock, _RWMethods):
            raise TypeError(f"RWLockView needs an RWLock, not {type(lock).__name__}")
        self.lock = lock if isinstance(lock, RWLock) else lock.lock  # type: ignore[attr-defined]
        self._install(lock.__dict__["_owner"], own_fns=True)

    def local(self) -> "RWLockView":
        return RWLockView(self.lock)

    def __repr__(self) -> str:
        return f"<ftkit.RWLockView of {self.lock!r}>"


class RWReadContext(_FastCtx):
    """ft_utils' ``with RWReadContext(rw):``: the read lock for the block.
    ``rw`` is an RWLock or a view of one; the context is the lock's own
    reusable one (``rw.read()``), so constructing it allocates nothing."""

    __slots__ = ()

    def __new__(cls, lock: Any) -> "RWReadContext":
        ctx = getattr(lock, "_read_ctx", None)  # LocalWrapper(rw) forwards it
        if type(ctx) is cls:
            return ctx
        return _context_for(cls, lock, "_read_ctx", _read_ctx, "lock_read", "unlock_read")

    def __init__(self, lock: Any) -> None:
        pass  # made by __new__


class RWWriteContext(_FastCtx):
    """ft_utils' ``with RWWriteContext(rw):``: the write lock for the block."""

    __slots__ = ()

    def __new__(cls, lock: Any) -> "RWWriteContext":
        ctx = getattr(lock, "_write_ctx", None)  # LocalWrapper(rw) forwards it
        if type(ctx) is cls:
            return ctx
        return _context_for(cls, lock, "_write_ctx", _write_ctx, "lock_write", "unlock_write")

    def __init__(self, lock: Any) -> None:
        pass  # made by __new__


def _context_for(cls: Any, lock: Any, attr: str, make: Any, acq: str, rel: str) -> Any:
    ctx = getattr(lock, attr, False)  # LocalWrapper(rw) forwards it
    if type(ctx) is cls:
        return ctx
    if ctx is None:  # an RWLock subclass that overrides a method
        return lock._ctx(cls)
    if ctx is False:
        raise TypeError(f"{cls.__name__} needs an ftkit RWLock or a view of one, "
                        f"not {type(lock).__name__}")
    # a subclass of the context class: one of its own, over the same lock
    self = object.__new__(cls)
    _FastCtx.__init__(self, *make(lock._owner, lock._h, getattr(lock, acq),
                                  getattr(lock, rel)))
    return self


# -- IntervalLock -----------------------------------------------------------------------

class IntervalLock(Native):
    """A mutex whose holder lets waiters in at intervals.

    >>> il = IntervalLock(interval=0.005)
    >>> with il:
    ...     for chunk in range(3):
    ...         il.poll()        # cedes if others wait and 5 ms have passed
    >>> il.locked()
    False

    ``poll()`` cedes the lock when other threads wait and ``interval``
    seconds have passed (measured from the later of the acquisition and the
    first waiter's arrival); ``cede()`` cedes at once if anyone waits: it
    releases, lets one waiter in, and re-acquires after it. Not reentrant:
    locking it again from the holder, and unlock/poll/cede from another
    thread, raise RuntimeError. ``lock``/``poll``/``cede`` take ``timeout``
    (seconds, None forever) for their acquisition and return True, or False
    on timeout (for poll/cede: the caller then no longer holds the lock).
    """

    def __init__(self, interval: float = 0.005) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError(f"interval must be a number, not {type(interval).__name__}")
        if not interval >= 0:  # NaN too
            raise ValueError(f"interval must be >= 0 seconds, not {interval!r}")
        if interval > 9e9:
            raise OverflowError("interval is too large")
        self._interval = float(interval)
        self._own(lib.ftk_ilock_new, lib.ftk_ilock_free, int(interval * 1e9))

    def _install_fast_paths(self, own: Callable[[Any], Any] = same) -> None:
        """lock/unlock/poll/cede as closures over this object's handle copy
        and ``own`` of the C functions, made by the calling thread (also for
        views: local(), with thread_copy)."""
        d = self.__dict__
        owner, h = d["_owner"], d["_h"]
        cls = type(self)
        fn: Any
        for name, fn in (("lock", _il_lock_fn(h, own(_il_lock))),
                         ("unlock", _il_unlock_fn(h, own(_il_unlock))),
                         ("poll", _il_yield_fn(h, _il_poll, "IntervalLock.poll")),
                         ("cede", _il_yield_fn(h, _il_cede, "IntervalLock.cede"))):
            fn._owner = owner
            d["_f_" + name] = fn
            if getattr(cls, name) is IntervalLock.__dict__[name]:
                d[name] = fn  # else a subclass overrides it: keep the override


    # The methods, for subclasses that override them (super()) and for
    # lookups through the class; instances use the closures directly.
    def lock(self, timeout: Any = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds (None: forever,
        0: a try). True when taken, False on timeout."""
        return self.__dict__["_f_lock"](timeout)

    def unlock(self) -> None:
        """Release the lock."""
        return self.__dict__["_f_unlock"]()

    def poll(self, timeout: Any = None) -> bool:
        """Cede if others wait and the interval has passed (see the class)."""
        return self.__dict__["_f_poll"](timeout)

    def cede(self, timeout: Any = None) -> bool:
        """Cede now if others wait (see the class)."""
        return self.__dict__["_f_cede"](timeout)

    @property
    def interval(self) -> float:
        return self._interval

    def locked(self) -> bool:
        """True if any thread holds the lock."""
        n = _il_locked(self._h)
        if n < 0:
            raise_status(n, "IntervalLock.locked", "IntervalLock")
        return bool(n)

    def held(self) -> bool:
        """True if the calling thread holds the lock."""
        n = _il_held(self._h)
        if n < 0:
            raise_status(n, "IntervalLock.held", "IntervalLock")
        return bool(n)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that overrides lock/unlock gets a ``with`` that calls
        them (the base class's makes the C calls inline)."""
        super().__init_subclass__(**kwargs)
        if cls.lock is not IntervalLock.lock or cls.unlock is not IntervalLock.unlock:
            if "__enter__" not in cls.__dict__:
                cls.__enter__ = IntervalLock._enter_methods  # type: ignore[method-assign]
            if "__exit__" not in cls.__dict__:
                cls.__exit__ = IntervalLock._exit_methods  # type: ignore[method-assign]

    def _enter_methods(self) -> "IntervalLock":
        self.lock()
        return self

    def _exit_methods(self, *exc: Any) -> None:
        self.unlock()

    def __enter__(self) -> "IntervalLock":
        # the try inline (one frame), the full lock only when it fails
        try:
            if not _il_lock(self._h, 0):
                return self
        except BaseException:
            try:
                _undo_ilock(self._h)
            except BaseException:  # noqa: BLE001 - a second interrupt
                _undo_ilock(self._h)
            raise
        self.__dict__["_f_lock"]()
        return self

    def __exit__(self, *exc: Any) -> None:
        st = _il_unlock(self._h)
        if st:
            _fail(st, "IntervalLock.unlock")

    def __repr__(self) -> str:
        try:
            state = "locked" if self.locked() else "unlocked"
        except Exception:  # noqa: BLE001
            state = "unavailable"
        return f"<ftkit.IntervalLock {state} interval={self._interval}>"
