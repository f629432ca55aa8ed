"""Lock workloads: RWLock read/write pairs, IntervalLock pairs.

Every row is one acquire + release pair. Beside each ftkit form run the raw
cffi calls of the same C functions (the binding's floor), one bare
no-argument cffi call (``ftk_version()``: the issue's "one bare cffi call"),
``threading.Lock`` and, where installed, ft_utils 0.2.0's locks.

The read path is measured three ways: through a thread-owned view made by
each thread (``mine = rw.local()``; the harness runs ``setup`` per thread),
through the shared lock's bound methods, and through ``with``. At 2 threads
the aggregate Mops/s of the view form against its 1-thread figure is the
scaling the issue asks for (2T >= 1.6x 1T).

Run alone: ``python bench/sync.py [--quick] [--json out.json]`` (the same
options as bench/run.py, whose machinery it uses).
"""
from __future__ import annotations

from _harness import Case, try_import


def _ftkit_shared() -> dict:
    import threading

    import ftkit
    from ftkit._lib import lib

    rw = ftkit.RWLock()
    return {"rw": rw, "il": ftkit.IntervalLock(), "lib": lib, "h": rw._h,
            "tlock": threading.Lock(), "ftkit": ftkit}


_PER_THREAD_H = ("from ftkit._lib import ffi; "
                 "mine_h = ffi.cast('ftk_handle_t', int(ffi.cast('uintptr_t', {h})))")


def cases() -> list[Case]:
    F = "sync"
    S = _ftkit_shared
    out = [
        Case(F, "floor", "one bare cffi call ftk_version()", "v()", "v = lib.ftk_version",
             shared=S, note="the issue's unit: one bare cffi call"),
        Case(F, "floor", "two bare cffi calls", "v(); v()", "v = lib.ftk_version", shared=S),
        # -- read pair ------------------------------------------------------------------------
        Case(F, "read pair", "ftkit view (mine = rw.local(), bound once)", "lr(); ur()",
             "mine = rw.local(); lr, ur = mine.lock_read, mine.unlock_read", shared=S,
             note="thread-owned view made by each thread"),
        Case(F, "read pair", "ftkit view, with mine.read()", "with ctx: pass",
             "mine = rw.local(); ctx = mine.read()", shared=S),
        Case(F, "read pair", "ftkit shared lock, bound once", "lr(); ur()",
             "lr, ur = rw.lock_read, rw.unlock_read", shared=S),
        Case(F, "read pair", "ftkit rw.lock_read(); rw.unlock_read()",
             "rw.lock_read(); rw.unlock_read()", shared=S),
        Case(F, "read pair", "ftkit with RWReadContext(rw)", "with C(rw): pass",
             "C = ftkit.RWReadContext", shared=S),
        Case(F, "read pair", "raw cffi rl(h, 0); ru(h), per-thread handle",
             "rl(mine_h, 0); ru(mine_h)",
             "rl, ru = lib.ftk_rwlock_read_lock, lib.ftk_rwlock_read_unlock; "
             + _PER_THREAD_H.format(h="h"), shared=S, note="the binding's floor"),
        Case(F, "read pair", "stdlib threading.Lock acquire+release (bound)", "a(); r()",
             "a, r = tlock.acquire, tlock.release", shared=S),
        # -- write pair -----------------------------------------------------------------------
        Case(F, "write pair", "ftkit view, bound once", "lw(); uw()",
             "mine = rw.local(); lw, uw = mine.lock_write, mine.unlock_write", shared=S),
        Case(F, "write pair", "ftkit with rw.write()", "with ctx: pass",
             "ctx = rw.write()", shared=S),
        Case(F, "write pair", "raw cffi wl(h, -1); wu(h), per-thread handle",
             "wl(mine_h, -1); wu(mine_h)",
             "wl, wu = lib.ftk_rwlock_write_lock, lib.ftk_rwlock_write_unlock; "
             + _PER_THREAD_H.format(h="h"), shared=S),
        Case(F, "write pair", "stdlib with threading.Lock", "with tlock: pass", shared=S),
        # -- interval lock --------------------------------------------------------------------
        Case(F, "ilock pair", "ftkit il.lock(); il.unlock() bound once", "lk(); ul()",
             "lk, ul = il.lock, il.unlock", shared=S),
        Case(F, "ilock pair", "ftkit with il", "with il: pass", shared=S),
        Case(F, "ilock pair", "raw cffi lk(h, -1); ul(h)", "lk(ih, -1); ul(ih)",
             "lk, ul = lib.ftk_ilock_lock, lib.ftk_ilock_unlock; ih = il._h", shared=S),
        Case(F, "ilock pair", "stdlib with threading.Lock", "with tlock: pass", shared=S),
    ]
    fts = try_import("ft_utils.synchronization")
    if fts is not None:
        def ft_shared() -> dict:
            return {"rw": fts.RWLock(), "il": fts.IntervalLock(), "RC": fts.RWReadContext}

        out += [
            Case(F, "read pair", "ft_utils RWLock, bound once", "lr(); ur()",
                 "lr, ur = rw.lock_read, rw.unlock_read", shared=ft_shared),
            Case(F, "read pair", "ft_utils with RWReadContext(rw)", "with RC(rw): pass",
                 shared=ft_shared),
            Case(F, "write pair", "ft_utils RWLock, bound once", "lw(); uw()",
                 "lw, uw = rw.lock_write, rw.unlock_write", shared=ft_shared),
            Case(F, "ilock pair", "ft_utils IntervalLock, bound once", "lk(); ul()",
                 "lk, ul = il.lock, il.unlock", shared=ft_shared),
            Case(F, "ilock pair", "ft_utils with il", "with il: pass", shared=ft_shared),
        ]
    return out


def _cpu_mops(stmt: str, setup: str, shared: dict, k: int, number: int) -> float:
    """Aggregate Mops/s of ``k`` threads counted in each thread's own CPU time
    (``time.thread_time``): what the operation costs a thread while it runs,
    unaffected by how many other processes share the cores. Contention
    (cache lines and reference counts bouncing between cores) still shows:
    it makes each operation take longer on the CPU."""
    import threading
    import time
    import timeit

    barrier = threading.Barrier(k)
    rates: list = []
    errors: list = []

    def body() -> None:
        try:
            timer = timeit.Timer(stmt, setup, timer=time.thread_time, globals=dict(shared))
            barrier.wait()
            rates.append(number / timer.timeit(number) / 1e6)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            barrier.abort()

    ts = [threading.Thread(target=body) for _ in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return sum(rates)


def extra(repeat: int = 2, scale: float = 1.0) -> list:
    """The read path's scaling in thread CPU time (1 and 2 threads at once):
    on a machine whose cores other jobs keep busy, wall-clock 2-thread rows
    measure the load, not the lock."""
    from _harness import Result

    number = max(1000, int(200_000 * scale))
    rows = [("one bare cffi call ftk_version()", "v()", "v = lib.ftk_version", _ftkit_shared),
            ("ftkit view (mine = rw.local(), bound once)", "lr(); ur()",
             "mine = rw.local(); lr, ur = mine.lock_read, mine.unlock_read", _ftkit_shared),
            ("ftkit shared lock, bound once", "lr(); ur()",
             "lr, ur = rw.lock_read, rw.unlock_read", _ftkit_shared),
            ("raw cffi rl(h, 0); ru(h), per-thread handle", "rl(mine_h, 0); ru(mine_h)",
             "rl, ru = lib.ftk_rwlock_read_lock, lib.ftk_rwlock_read_unlock; "
             + _PER_THREAD_H.format(h="h"), _ftkit_shared)]
    fts = try_import("ft_utils.synchronization")
    if fts is not None:
        rows.append(("ft_utils RWLock, bound once", "lr(); ur()",
                     "lr, ur = rw.lock_read, rw.unlock_read", lambda: {"rw": fts.RWLock()}))
    out = []
    for impl, stmt, setup, shared in rows:
        sh = shared()
        mops = {f"{k}T": max(_cpu_mops(stmt, setup, sh, k, number)
                             for _ in range(max(1, repeat)))
                for k in (1, 2)}  # bench/run.py prints these as two rows: 1T, then 2T
        out.append(Result("sync", "read pair, thread CPU time", impl, 0.0, mops,
                          note="aggregate Mops/s in thread CPU time"))
    return out


if __name__ == "__main__":
    import sys

    import run

    if "sync" not in run.FAMILIES:
        run.FAMILIES.append("sync")
    sys.argv[1:1] = ["--family", "sync"]
    sys.exit(run.main())
