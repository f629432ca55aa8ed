"""AtomicCounter workloads: contended increments on one counter.

AtomicCounter (the striped counter: each thread adds to its own C cell)
beside AtomicInt64 (one shared word), threading.Lock + int, the bare cffi
call of ftk_counter_add_v, ft_utils' AtomicInt64 and cereggii's
AtomicInt64/ThreadHandle when installed. "view" rows use ``c.local()``
made by each thread (thread-owned callables and handle object); the other
rows share the counter object's bound method, as most code would.
"""
from __future__ import annotations

from _harness import Case, try_import


def _shared() -> dict:
    import ftkit
    from ftkit._lib import lib

    c = ftkit.AtomicCounter()
    x = ftkit.AtomicInt64()
    return {"c": c, "h": c._h, "x": x, "lib": lib}


def _lock_shared() -> dict:
    import threading

    class Box:
        __slots__ = ("lock", "value")

        def __init__(self):
            self.lock = threading.Lock()
            self.value = 0

    return {"box": Box()}


def cases() -> list[Case]:
    F = "counter"
    out = [
        Case(F, "incr", "ftkit AtomicCounter incr() bound once", "incr()", "incr = c.incr",
             shared=_shared),
        Case(F, "incr", "ftkit AtomicCounter view incr()", "incr()", "incr = c.local().incr",
             shared=_shared, note="each thread makes its own view"),
        Case(F, "incr", "ftkit AtomicCounter c.incr()", "c.incr()", shared=_shared),
        Case(F, "incr", "ftkit raw cffi ftk_counter_add_v(h, 1), per-thread handle",
             "add(mine, 1)",
             "add = lib.ftk_counter_add_v; from ftkit._lib import ffi; "
             "mine = ffi.cast('ftk_handle_t', h)", shared=_shared,
             note="the floor: one cffi call, nothing shared in Python"),
        Case(F, "incr", "ftkit AtomicInt64 incr() bound once", "incr()", "incr = x.incr",
             shared=_shared),
        Case(F, "incr", "stdlib Lock + int, lock bound once", "with lock: box.value += 1",
             "lock = box.lock", shared=_lock_shared),
        Case(F, "add", "ftkit AtomicCounter add(3) bound once", "add(3)", "add = c.local().add",
             shared=_shared),
        Case(F, "get", "ftkit AtomicCounter get()", "get()", "get = c.get", shared=_shared,
             note="sums one chunk of 16 cells"),
        Case(F, "get", "ftkit AtomicInt64 get()", "get()", "get = x.get", shared=_shared),
    ]
    ft_utils = try_import("ft_utils.concurrency")
    if ft_utils is not None:
        out.append(Case(F, "incr", "ft_utils AtomicInt64 incr() bound once", "incr()",
                        "incr = x.incr", shared=lambda: {"x": ft_utils.AtomicInt64(0)}))
    cereggii = try_import("cereggii")
    if cereggii is not None and hasattr(cereggii, "ThreadHandle"):
        out.append(Case(F, "incr", "cereggii AtomicInt64 via ThreadHandle", "x += 1",
                        "x = cereggii.ThreadHandle(x_)",
                        shared=lambda: {"x_": cereggii.AtomicInt64(0), "cereggii": cereggii}))
    return out


# ---- same-run scaling: 1 thread vs 2 threads, interleaved ------------------
#
# The machine this runs on is shared and loaded, so the table above (best of
# a few runs, wall clock measured by the main thread) can be far off. Here
# every thread times itself (wall = last end - first start, so a late main
# thread does not matter), 1T and 2T runs alternate, and the medians are
# reported, with the 2T/1T ratio. The CPU time per operation (thread_time)
# at 1T and 2T shows contention independently of the load: a shared cache
# line makes each op cost more CPU when two threads hit it; cells do not.
# The control row (a no-op function each thread makes for itself, nothing
# shared) shows how much 2-thread scaling the host allowed during the run.

def _scaling_impls() -> list[tuple[str, object]]:
    import threading

    import ftkit
    from ftkit._lib import ffi, lib

    c = ftkit.AtomicCounter()
    x = ftkit.AtomicInt64()
    lock = threading.Lock()
    box = [0]

    def counter_bound():
        return c.incr

    def counter_view():
        return c.local().incr

    def raw_cffi():
        from functools import partial
        return partial(lib.ftk_counter_add_v, ffi.cast("ftk_handle_t", c._h), 1)

    def int64_bound():
        return x.incr

    def locked():
        def incr(lock=lock, box=box):
            with lock:
                box[0] += 1
        return incr

    def control():
        def nothing():  # made per thread: no shared object at all
            pass
        return nothing

    impls = [("control: a per-thread no-op Python function", control),
             ("AtomicCounter incr() bound once", counter_bound),
             ("AtomicCounter view incr()", counter_view),
             ("raw cffi ftk_counter_add_v, per-thread handle", raw_cffi),
             ("AtomicInt64 incr() bound once", int64_bound),
             ("Lock + int", locked)]
    ft_utils = try_import("ft_utils.concurrency")
    if ft_utils is not None:
        fx = ft_utils.AtomicInt64(0)
        impls.append(("ft_utils AtomicInt64 incr() bound once", lambda: fx.incr))
    return impls


def _run(make, k: int, n: int) -> tuple[float, float]:
    """(aggregate Mops/s, CPU ns per op) of k threads doing n calls each."""
    import threading
    import time

    barrier = threading.Barrier(k)
    spans: list = []
    cpu: list = []

    def body():
        fn = make()
        r = range(n // 10)
        barrier.wait()
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in r:
            fn(); fn(); fn(); fn(); fn(); fn(); fn(); fn(); fn(); fn()  # noqa: E702
        spans.append((t0, time.perf_counter()))
        cpu.append(time.thread_time() - c0)

    ts = [threading.Thread(target=body) for _ in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    return k * n / wall / 1e6, sum(cpu) / (k * n) * 1e9


def extra(repeat: int = 3, scale: float = 1.0):
    import statistics

    from _harness import Result

    n = max(10_000, int(300_000 * scale))
    rounds = max(3, 2 * repeat + 1)
    out = []
    for name, make in _scaling_impls():
        m = {1: [], 2: []}
        c = {1: [], 2: []}
        for _ in range(rounds):
            for k in (1, 2):
                mops, cpu_ns = _run(make, k, n)
                m[k].append(mops)
                c[k].append(cpu_ns)
        m1, m2 = statistics.median(m[1]), statistics.median(m[2])
        c1, c2 = statistics.median(c[1]), statistics.median(c[2])
        for label, v in ((f"1T Mops/s (median of {rounds})", m1),
                         (f"2T Mops/s (median of {rounds})", m2),
                         ("2T/1T", m2 / m1),
                         ("CPU ns/op 1T", c1), ("CPU ns/op 2T", c2)):
            out.append(Result("counter", "scaling: " + label, name, 0.0, {"v": v}))
    return out
