"""ftkit.synchronization: RWLock, IntervalLock and ft_utils' context classes.

Both interpreters run this (scripts/test.sh stages 2 and 3). Storms are
bounded in time (the CI machine has 2 cores and is loaded).
"""
from __future__ import annotations

import os
import sys
import threading
import time

import pytest

import ftkit
from ftkit._lib import lib
from ftkit.synchronization import (IntervalLock, RWLock, RWLockView, RWReadContext,
                                   RWWriteContext)

from conftest import PYPY, Interrupts, run_threads, wait_child



# -- basics and the ft_utils API -------------------------------------------------------

def test_exports():
    assert ftkit.RWLock is RWLock and ftkit.IntervalLock is IntervalLock
    assert ftkit.RWReadContext is RWReadContext and ftkit.RWWriteContext is RWWriteContext
    import ftkit.synchronization as s
    assert set(s.__all__) >= {"RWLock", "RWReadContext", "RWWriteContext", "IntervalLock"}


def test_rwlock_ft_utils_api():
    rw = RWLock()
    assert (rw.readers(), rw.writers_waiting(), rw.writer_locked()) == (0, 0, False)
    rw.lock_read()
    rw.lock_read()  # reentrant, counted
    assert rw.readers() == 1 and rw.read_held() == 2
    rw.unlock_read()
    rw.unlock_read()
    assert rw.readers() == 0 and rw.read_held() == 0
    rw.lock_write()
    assert rw.writer_locked() and rw.write_held()
    rw.unlock_write()
    assert not rw.writer_locked()
    with RWReadContext(rw):
        assert rw.readers() == 1
    with RWWriteContext(rw):
        assert rw.writer_locked()
    assert (rw.readers(), rw.writer_locked()) == (0, False)


def test_context_classes():
    rw = RWLock()
    v = rw.local()
    assert RWReadContext(rw) is rw.read() and RWWriteContext(v) is v.write()
    assert isinstance(rw.read(), RWReadContext) and isinstance(rw.write(), RWWriteContext)
    # LocalWrapper(rw) calls through a view made by this thread: the context
    # is that view's own reusable one, and it locks rw
    w = ftkit.LocalWrapper(rw)
    ctx = RWReadContext(w)
    assert type(ctx) is RWReadContext and ctx is RWReadContext(w) and ctx is w.read()
    with ctx:
        assert rw.read_held() == 1 and rw.readers() == 1
    assert rw.readers() == 0

    class Mine(RWReadContext):
        pass

    m = Mine(rw)
    assert type(m) is Mine
    with m:
        assert rw.read_held() == 1
    with pytest.raises(TypeError):
        RWReadContext(object())
    with pytest.raises(RuntimeError, match="holds no read lock"):
        rw.read().__exit__(None, None, None)
    rw.lock_write()
    with pytest.raises(RuntimeError, match="write lock"):
        with rw.read():
            pass
    rw.unlock_write()


def test_rwlock_context_managers_and_return_values():
    rw = RWLock()
    assert rw.lock_read() is True and rw.lock_read(timeout=0) is True
    rw.unlock_read(), rw.unlock_read()
    with rw.read():
        with rw.read():
            assert rw.read_held() == 2
    with rw.write(timeout=1):
        assert rw.write_held()
    assert rw.read() is rw.read()  # one reusable object
    # an exception in the block releases
    with pytest.raises(ZeroDivisionError):
        with rw.write():
            1 / 0
    assert not rw.writer_locked()


def test_ilock_api():
    il = IntervalLock()
    assert il.interval == 0.005 and not il.locked()
    assert il.lock() is True
    assert il.locked() and il.held()
    il.poll()
    il.cede()  # nobody waits: keeps it
    assert il.poll(timeout=1) is True and il.cede(0) is True
    for fn in (il.poll, il.cede):
        with pytest.raises(ValueError):
            fn(-1)
        with pytest.raises(TypeError):
            fn("1")
    assert il.held() and il.poll.__name__ == "poll" and "interval" in il.poll.__doc__
    il.unlock()
    with il as entered:
        assert entered is il and il.locked()
    assert not il.locked()
    IntervalLock(0)
    IntervalLock(interval=1)
    for bad, exc in ((-1, ValueError), (float("nan"), ValueError), ("1", TypeError),
                     (True, TypeError), (1e12, OverflowError)):
        with pytest.raises(exc):
            IntervalLock(bad)


def test_bound_methods_keep_the_lock_alive():
    lock_read = RWLock().lock_read
    assert lock_read() is True  # the C lock was not freed under the callable
    lk = IntervalLock().lock
    assert lk(timeout=0) is True


def test_subclasses_keep_their_overrides():
    calls = []

    class Logged(RWLock):
        def lock_read(self, timeout=None):
            calls.append("lock_read")
            return super().lock_read(timeout)

        def unlock_write(self):
            calls.append("unlock_write")
            super().unlock_write()

    rw = Logged()
    assert rw.lock_read(0) is True and rw.read_held() == 1
    rw.unlock_read()
    with rw.read():
        assert rw.read_held() == 1
    with RWReadContext(rw):
        pass
    with rw.write():
        pass
    with RWWriteContext(rw):
        pass
    assert calls == ["lock_read"] * 3 + ["unlock_write"] * 2
    assert RWLock.lock_read(rw, 0) is True  # through the class
    RWLock.unlock_read(rw)
    assert rw.read_held() == 0 and not rw.writer_locked()

    class LoggedIL(IntervalLock):
        def lock(self, timeout=None):
            calls.append("lock")
            return super().lock(timeout)

    il = LoggedIL()
    with il:
        assert il.held()
    il.lock()
    il.poll()
    IntervalLock.cede(il)
    il.unlock()
    assert calls[-2:] == ["lock", "lock"] and not il.locked()


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting frees at once")
def test_freed_by_reference_counting_alone():
    import gc
    import weakref

    class Sub(RWLock):
        def lock_read(self, timeout=None):
            return super().lock_read(timeout)

    class SubIL(IntervalLock):
        def unlock(self):
            super().unlock()

    gc.disable()
    try:
        for make in (RWLock, IntervalLock, Sub, SubIL, lambda: RWLock().local()):
            obj = make()
            if isinstance(obj, (RWLock, RWLockView)):
                with obj.read():
                    pass
                with RWWriteContext(obj):
                    pass
            else:
                with obj:
                    obj.poll()
            ref = weakref.ref(obj)
            del obj
            assert ref() is None, make
    finally:
        gc.enable()


def test_no_pickle():
    import pickle
    for obj in (RWLock(), IntervalLock(), RWLock().local()):
        with pytest.raises(TypeError):
            pickle.dumps(obj)


# -- misuse ------------------------------------------------------------------------------

def test_misuse_raises_clear_runtime_errors():
    rw = RWLock()
    with pytest.raises(RuntimeError, match="holds no read lock"):
        rw.unlock_read()
    with pytest.raises(RuntimeError, match="does not hold this RWLock's write lock"):
        rw.unlock_write()
    rw.lock_read()
    with pytest.raises(RuntimeError, match="upgrading a read lock"):
        rw.lock_write()
    with pytest.raises(RuntimeError, match="upgrading"):
        rw.lock_write(timeout=0.01)
    rw.unlock_read()
    rw.lock_write()
    with pytest.raises(RuntimeError, match="write lock"):
        rw.lock_read()
    with pytest.raises(RuntimeError, match="already holds"):
        rw.lock_write()
    # another thread cannot release this thread's hold
    errors = []

    def other():
        for fn in (rw.unlock_write, rw.unlock_read):
            try:
                fn()
            except RuntimeError as e:
                errors.append(str(e))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 2 and rw.write_held()
    rw.unlock_write()

    il = IntervalLock()
    for fn in (il.unlock, il.poll, il.cede):
        with pytest.raises(RuntimeError, match="does not hold this IntervalLock"):
            fn()
    il.lock()
    with pytest.raises(RuntimeError, match="not reentrant"):
        il.lock()
    t = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, il.unlock)))
    t.start()
    t.join()
    assert il.held()
    il.unlock()
    with pytest.raises(RuntimeError):
        with il:
            il.unlock()  # released inside the block: __exit__ says so


def test_bad_timeouts():
    rw, il = RWLock(), IntervalLock()
    holder_has_it, release = threading.Event(), threading.Event()

    def hold():
        rw.lock_write()
        il.lock()
        holder_has_it.set()
        release.wait(10)
        il.unlock()
        rw.unlock_write()

    t = threading.Thread(target=hold)
    t.start()
    holder_has_it.wait(10)
    try:
        for fn in (rw.lock_read, rw.lock_write, il.lock):
            with pytest.raises(ValueError):
                fn(-1)
            with pytest.raises(ValueError):
                fn(float("nan"))
            with pytest.raises(TypeError):
                fn("1")
            with pytest.raises(OverflowError):
                fn(float("inf"))
        with pytest.raises(ValueError):
            rw.read(-1)
    finally:
        release.set()
        t.join()
    assert not rw.writer_locked() and not il.locked() and rw.read_held() == 0


# -- timeouts --------------------------------------------------------------------------------

def test_timeouts():
    rw, il = RWLock(), IntervalLock()
    has, release = threading.Event(), threading.Event()

    def hold():
        rw.lock_write()
        il.lock()
        has.set()
        release.wait(10)
        il.unlock()
        rw.unlock_write()

    t = threading.Thread(target=hold)
    t.start()
    has.wait(10)
    try:
        for fn in (rw.lock_read, rw.lock_write, il.lock):
            assert fn(timeout=0) is False
            t0 = time.monotonic()
            assert fn(timeout=0.12) is False
            assert time.monotonic() - t0 >= 0.1
        with pytest.raises(TimeoutError):
            with rw.read(timeout=0.02):
                pass
        with pytest.raises(TimeoutError):
            with rw.write(0.02):
                pass
        assert rw.read_held() == 0 and not rw.write_held()
        # a waiter gets in when the holder releases within its timeout
        threading.Timer(0.1, release.set).start()
        assert rw.lock_read(timeout=5) is True
        rw.unlock_read()
        assert il.lock(timeout=5) is True
        il.unlock()
    finally:
        release.set()
        t.join()


def test_readers_share_and_writers_wait_for_them():
    rw = RWLock()
    inside = threading.Barrier(3)
    out = []

    def reader(i):
        with rw.read():
            inside.wait(10)  # all three readers are in at once
            out.append(rw.readers())
            inside.wait(10)

    run_threads(3, reader, timeout=30)
    assert out == [3, 3, 3]


# -- mutual exclusion under storms ----------------------------------------------------------

def _storm(rw: RWLock, threads: int, seconds: float, view: bool) -> dict:
    meta = threading.Lock()
    state = {"r": 0, "w": 0, "bad": [], "reads": 0, "writes": 0}
    pair = [0, 0]
    end = time.monotonic() + seconds

    def worker(i):
        lk = rw.local() if view else rw
        lock_read, unlock_read = lk.lock_read, lk.unlock_read
        n = 0
        while time.monotonic() < end:
            n += 1
            if (n + i) % 5 == 0:  # a writer turn
                with lk.write():
                    with meta:
                        if state["w"] or state["r"]:
                            state["bad"].append(("writer with", state["w"], state["r"]))
                        state["w"] += 1
                    pair[0] += 1
                    time.sleep(0) if n % 7 == 0 else None
                    pair[1] += 1
                    with meta:
                        state["w"] -= 1
                        state["writes"] += 1
            else:
                lock_read()
                try:
                    with meta:
                        if state["w"]:
                            state["bad"].append(("reader with writer", state["w"]))
                        state["r"] += 1
                    a, b = pair[0], pair[1]
                    if a != b:
                        state["bad"].append(("torn pair", a, b))
                    with meta:
                        state["r"] -= 1
                        state["reads"] += 1
                finally:
                    unlock_read()

    run_threads(threads, worker, timeout=60)
    return state


@pytest.mark.parametrize("view", [False, True], ids=["shared", "views"])
def test_mutual_exclusion_storm_8_threads(view):
    rw = RWLock()
    st = _storm(rw, 8, 1.5, view)
    assert st["bad"] == []
    assert st["reads"] > 0 and st["writes"] > 0
    assert (rw.readers(), rw.writer_locked(), rw.writers_waiting()) == (0, False, 0)


def test_ilock_mutual_exclusion_storm_8_threads():
    il = IntervalLock(interval=0.0005)
    inside = [0]
    bad = []
    total = [0]
    end = time.monotonic() + 1.5

    def worker(i):
        while time.monotonic() < end:
            with il:
                for _ in range(3):
                    inside[0] += 1
                    if inside[0] != 1:
                        bad.append(inside[0])
                    total[0] += 1
                    inside[0] -= 1
                    il.poll()  # may cede: then others run, and we hold it again after

    run_threads(8, worker, timeout=60)
    assert bad == [] and total[0] > 0 and not il.locked()


def test_no_writer_starvation():
    rw = RWLock()
    stop = threading.Event()
    started = threading.Barrier(8)
    waits = []

    def reader(i):
        mine = rw.local()
        started.wait(10)
        while not stop.is_set():
            with mine.read():
                pass

    ts = [threading.Thread(target=reader, args=(i,)) for i in range(7)]
    for t in ts:
        t.start()
    started.wait(10)
    try:
        for _ in range(5):
            time.sleep(0.02)
            t0 = time.monotonic()
            got = rw.lock_write(timeout=5)
            waits.append(time.monotonic() - t0)
            assert got, "a writer starved behind 7 re-reading threads"
            assert rw.readers() == 0
            rw.unlock_write()
    finally:
        stop.set()
        for t in ts:
            t.join()
    assert max(waits) < 2.0, waits


def test_thread_exit_releases_read_holds_not_write_holds():
    rw, il = RWLock(), IntervalLock()
    t = threading.Thread(target=rw.lock_read)
    t.start()
    t.join()
    # the hold goes at the OS thread's exit (a TLS destructor), which may
    # come a moment after join() returned: a writer gets in within a timeout
    assert rw.lock_write(timeout=5) is True and rw.readers() == 0
    rw.unlock_write()
    t = threading.Thread(target=rw.lock_write)
    t.start()
    t.join()
    assert rw.writer_locked() and rw.lock_read(timeout=0.05) is False
    t = threading.Thread(target=il.lock)
    t.start()
    t.join()
    assert il.locked() and il.lock(timeout=0.05) is False


# -- views ---------------------------------------------------------------------------------

def test_views_are_the_same_lock():
    rw = RWLock()
    v = rw.local()
    assert isinstance(v, RWLockView) and v.lock is rw and v.local().lock is rw
    assert v.lock_read is not rw.lock_read and v._h is not rw._h
    # a view shares no Python object with the lock on its call path
    assert v.read()._try is not rw.read()._try and v.read()._rel is not rw.read()._rel
    assert v.read()._h is v._h
    v.lock_read()
    assert rw.readers() == 1 and rw.read_held() == 1
    rw.unlock_read()  # C ownership is per thread: any view of the lock releases it
    with v.write():
        assert rw.writer_locked() and rw.lock_write(0) is not True if False else True
    # a view used from another thread is still correct (C knows the thread)
    out = []
    t = threading.Thread(target=lambda: out.append((v.lock_read(0), v.read_held(), v.unlock_read())))
    t.start()
    t.join()
    assert out == [(True, 1, None)] and rw.readers() == 0
    with RWReadContext(v):
        assert rw.readers() == 1
    lr = RWLock().local().lock_read
    assert lr() is True  # a view's callable keeps the lock alive too
    with pytest.raises(TypeError):
        RWLockView(object())


def test_local_wrapper_forwards():
    rw = RWLock()
    w = ftkit.LocalWrapper(rw)
    w.lock_read()
    assert rw.readers() == 1
    w.unlock_read()
    with w.write():
        assert rw.writer_locked()


# -- IntervalLock hand-over ------------------------------------------------------------------

def _start_waiter(il, events):
    ready = threading.Event()

    def waiter():
        ready.set()
        il.lock()
        events.append("waiter")
        il.unlock()

    t = threading.Thread(target=waiter)
    t.start()
    ready.wait(10)
    time.sleep(0.1)  # usually blocked in lock() by now (a loaded host may be slower)
    return t


def _until_handed_over(il, events, call, what):
    """Call ``call()`` (cede or poll, as the holder) until the waiter has had
    the lock; a call made before the waiter queued keeps it (nobody waits).
    Returns how many calls it took. The waiter can only get the lock from
    inside one of these calls: this thread holds it the whole time otherwise."""
    end = time.monotonic() + 20
    n = 0
    while "waiter" not in events:
        assert time.monotonic() < end, f"{what} never handed the lock over"
        assert call() is True and il.held()
        n += 1
        events.append(f"after {what}")
        time.sleep(0.001)
    return n


def test_cede_hands_over_to_a_waiter():
    il = IntervalLock(interval=10)
    events = []
    il.lock()
    t = _start_waiter(il, events)
    for _ in range(3):
        il.poll()  # interval not reached: keeps it, waiter or not
    assert events == [] and il.held()
    _until_handed_over(il, events, il.cede, "cede")
    # the cede that handed over returned only after the waiter had it
    assert events[-2:] == ["waiter", "after cede"] and il.held()
    il.unlock()
    t.join()


def test_poll_cedes_after_the_interval():
    il = IntervalLock(interval=0.02)
    events = []
    il.lock()
    t = _start_waiter(il, events)
    _until_handed_over(il, events, il.poll, "poll")
    assert events[-2:] == ["waiter", "after poll"] and il.held()
    il.unlock()
    t.join()


# -- Ctrl-C ------------------------------------------------------------------------------------

_PYPY_SIGNALS = ("the locks' interrupt rule relies on CPython running signal handlers only "
                 "where a call returns (and at function entry); PyPy runs them at its own "
                 "points (JIT loop headers), also after an acquire returned to its caller")


def _busy_holder(acquire, release, stop):
    """Another thread that holds the lock most of the time, so the main
    thread's acquires often wait in C."""
    def run():
        while not stop.is_set():
            if acquire(timeout=0.05):
                time.sleep(0.002)
                release()
            time.sleep(0.0005)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _interrupt_storm(acquire, release, held, seconds=1.5, nested=None):
    """Acquire/release in a loop under SIGINTs: after an interrupted acquire
    the caller holds nothing new; after an interrupted release nothing."""
    got = interrupted = 0
    with Interrupts(seed=11) as irq:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            base = held()
            try:
                ok = acquire()
            except KeyboardInterrupt:
                interrupted += 1
                assert held() == base, "an interrupted acquire left the lock held"
                continue
            assert ok is True and held() == base + 1
            got += 1
            while True:
                try:
                    release()
                    break
                except KeyboardInterrupt:
                    # completed (the signal came after the C call) or had no
                    # effect (it came at the method's entry): retry in that case
                    if held() == base:
                        break
                    assert held() == base + 1
            assert held() == base
    return got, interrupted, irq.raised


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals go to the main thread")
@pytest.mark.skipif(PYPY, reason=_PYPY_SIGNALS)
@pytest.mark.parametrize("kind", ["read", "read nested", "write", "ilock"])
def test_ctrl_c_during_blocked_acquire(kind):
    rw, il = RWLock(), IntervalLock()
    h, ih = rw._h, il._h
    stop = threading.Event()
    if kind.startswith("read"):
        holder = _busy_holder(rw.lock_write, rw.unlock_write, stop)
        acquire, release = rw.lock_read, rw.unlock_read
        held = lambda: lib.ftk_rwlock_read_held(h)  # noqa: E731 - raw: not an ftkit frame
    elif kind == "write":
        holder = _busy_holder(rw.lock_read, rw.unlock_read, stop)
        acquire, release = rw.lock_write, rw.unlock_write
        held = lambda: lib.ftk_rwlock_write_held(h)  # noqa: E731
    else:
        holder = _busy_holder(il.lock, il.unlock, stop)
        acquire, release = il.lock, il.unlock
        held = lambda: lib.ftk_ilock_held(ih)  # noqa: E731
    outer = kind == "read nested"
    if outer:  # nested acquires never wait (the writer waits for us): the
        # interrupts land right after the C call took the nested hold
        while lib.ftk_rwlock_read_lock(h, 10**7) != 0:
            pass
    try:
        got, interrupted, raised = _interrupt_storm(acquire, release, held)
    finally:
        stop.set()
        holder.join()
    if outer:
        assert lib.ftk_rwlock_read_held(h) == 1
        assert lib.ftk_rwlock_read_unlock(h) == 0
    assert got > 0 and raised > 0
    assert rw.readers() == 0 and not rw.writer_locked() and not il.locked()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals go to the main thread")
@pytest.mark.skipif(PYPY, reason=_PYPY_SIGNALS)
def test_ctrl_c_during_cede_keeps_the_lock():
    il = IntervalLock(interval=0)
    ih = il._h
    stop = threading.Event()
    holder = _busy_holder(il.lock, il.unlock, stop)  # a waiter most of the time
    interrupted = cedes = 0
    il.lock()
    try:
        with Interrupts(seed=11):
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                try:
                    il.cede()
                    cedes += 1
                except KeyboardInterrupt:
                    interrupted += 1
                assert lib.ftk_ilock_held(ih) == 1, "an interrupted cede lost the lock"
    finally:
        il.unlock()
        stop.set()
        holder.join()
    assert cedes > 0 and not il.locked()


# -- fork ------------------------------------------------------------------------------------

def _fork_check(check) -> int:
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            code = 0 if check() else 1
        except BaseException:  # noqa: BLE001
            code = 2
        finally:
            os._exit(code)
    return wait_child(pid)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_locks_held_by_parent_threads_stay_held_in_the_child():
    rw_w, rw_r, il = RWLock(), RWLock(), IntervalLock()
    has, release = threading.Event(), threading.Event()

    def hold():
        rw_w.lock_write()
        rw_r.lock_read()
        il.lock()
        has.set()
        release.wait(30)
        il.unlock()
        rw_r.unlock_read()
        rw_w.unlock_write()

    t = threading.Thread(target=hold)
    t.start()
    has.wait(10)
    try:
        def child():
            # write-held by a thread that does not exist here: stays held,
            # tries fail and timed waits time out (nothing hangs)
            ok = rw_w.lock_read(timeout=0.05) is False and rw_w.lock_write(0) is False
            ok = ok and rw_w.writer_locked()
            # read-held by a gone thread: readers still get in, writers do not
            ok = ok and rw_r.readers() == 1 and rw_r.lock_read(0) is True
            rw_r.unlock_read()
            ok = ok and rw_r.lock_write(timeout=0.05) is False
            ok = ok and il.locked() and il.lock(timeout=0.05) is False
            # locks made after the fork work
            fresh = RWLock()
            with fresh.write():
                pass
            return ok
        assert _fork_check(child) == 0
    finally:
        release.set()
        t.join()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_the_forking_threads_holds_are_kept():
    rw, rw2, il = RWLock(), RWLock(), IntervalLock()
    rw.lock_read()
    rw2.lock_write()
    il.lock()
    try:
        def child():
            ok = rw.read_held() == 1 and rw2.write_held() and il.held()
            rw.unlock_read()
            rw2.unlock_write()
            il.unlock()
            ok = ok and rw.lock_write(timeout=1) is True and rw2.lock_read(timeout=1) is True
            return ok and il.lock(timeout=1) is True
        assert _fork_check(child) == 0
    finally:
        rw.unlock_read()
        rw2.unlock_write()
        il.unlock()
    assert rw.lock_write(0) is True


# -- the docs' samples run unchanged -------------------------------------------------------------

def test_ft_utils_style_sample():
    """ft_utils 0.2.0-style code (the calls ignore return values)."""
    from ftkit.synchronization import IntervalLock, RWLock, RWReadContext, RWWriteContext

    lock = RWLock()
    data = {}

    def writer(i):
        with RWWriteContext(lock):
            data[i] = i * i

    def reader(i):
        with RWReadContext(lock):
            return dict(data)

    run_threads(4, writer)
    run_threads(4, reader)
    lock.lock_read()
    assert lock.readers() == 1
    lock.unlock_read()
    assert lock.writers_waiting() == 0 and lock.writer_locked() is False

    il = IntervalLock()
    il.lock()
    il.poll()
    il.cede()
    il.unlock()
    with il:
        assert il.locked()
    assert data == {0: 0, 1: 1, 2: 4, 3: 9}
