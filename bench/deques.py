"""Deque workloads: append+pop on one thread, one appender + one left-popper,
batches, random access.

ftkit ConcurrentDeque beside ftkit ConcurrentQueue (the issue's reference for
the single-thread pair), collections.deque (GIL-atomic appends and pops, no
blocking) and ft_utils' ConcurrentDeque where installed. The raw cffi floor is
one ftk_deque_push_back + one ftk_deque_pop_back_v call with a word from a
local.

The two-thread pipeline polls: the consumer pops from the left and, on an
empty deque, catches the empty error and tries again (collections.deque and
ft_utils cannot wait); the "popleft(timeout)" row waits in C instead.
"""
from __future__ import annotations

import threading
import time

from _harness import Case, Result, try_import

PIPE_ITEMS = 200_000


def _shared() -> dict:
    import collections

    import ftkit
    from ftkit._lib import lib

    d = ftkit.ConcurrentDeque()
    d64 = ftkit.ConcurrentDeque(range(64))
    return {"d": d, "d64": d64, "cq": ftkit.ConcurrentQueue(), "std": collections.deque(),
            "std64": collections.deque(range(64)), "lib": lib, "h": d._h, "obj": object(),
            "batch16": [object()] * 16, "batch64": [object()] * 64}


def cases() -> list[Case]:
    F = "deques"
    out = [
        Case(F, "append+pop", "ftkit ConcurrentDeque", "d.append(obj); d.pop()",
             shared=_shared),
        Case(F, "append+pop", "ftkit ConcurrentDeque, bound methods",
             "append(obj); pop()", "append = d.append; pop = d.pop", shared=_shared),
        Case(F, "append+pop", "ftkit ConcurrentQueue push+pop (reference)",
             "cq.push(obj); cq.pop()", shared=_shared),
        Case(F, "append+pop", "ftkit raw cffi push_back + pop_back_v", "push(h, 5); pop(h)",
             "push = lib.ftk_deque_push_back; pop = lib.ftk_deque_pop_back_v",
             shared=_shared),
        Case(F, "append+pop", "stdlib collections.deque", "std.append(obj); std.pop()",
             shared=_shared),
        Case(F, "append+popleft", "ftkit ConcurrentDeque", "d.append(obj); d.popleft()",
             shared=_shared),
        Case(F, "d[32] (64 items)", "ftkit ConcurrentDeque", "d64[32]", shared=_shared),
        Case(F, "d[32] (64 items)", "stdlib collections.deque", "std64[32]", shared=_shared),
        Case(F, "len", "ftkit ConcurrentDeque", "len(d64)", shared=_shared),
        Case(F, "iterate 64 items", "ftkit ConcurrentDeque", "for _ in d64: pass",
             shared=_shared, number=20_000, per_op=64),
        Case(F, "iterate 64 items", "stdlib collections.deque", "for _ in std64: pass",
             shared=_shared, number=20_000, per_op=64),
        Case(F, "rotate(1)", "ftkit ConcurrentDeque", "d64.rotate(1)", shared=_shared),
    ]
    for n in (16, 64):
        out.append(Case(F, f"extend+pop_many per item, batch {n}", "ftkit ConcurrentDeque",
                        f"d.extend(batch{n}); d.pop_many({n})", shared=_shared,
                        number=max(2000, 100_000 // n), per_op=n))
        out.append(Case(F, f"extend+pop per item, batch {n}", "stdlib collections.deque",
                        f"std.extend(batch{n}); [std.pop() for _ in range({n})]",
                        shared=_shared, number=max(2000, 100_000 // n), per_op=n))
    ft = try_import("ft_utils.concurrency")
    if ft is not None and hasattr(ft, "ConcurrentDeque"):
        out.append(Case(F, "append+pop", "ft_utils ConcurrentDeque", "fd.append(obj); fd.pop()",
                        shared=lambda: {"fd": ft.ConcurrentDeque(), "obj": object()}))
        out.append(Case(F, "append+popleft", "ft_utils ConcurrentDeque",
                        "fd.append(obj); fd.popleft()",
                        shared=lambda: {"fd": ft.ConcurrentDeque(), "obj": object()}))
        out.append(Case(F, "d[32] (64 items)", "ft_utils ConcurrentDeque", "fd64[32]",
                        shared=lambda: {"fd64": ft.ConcurrentDeque(range(64))}))
    return out


def _pipeline(make, n=PIPE_ITEMS, wait: bool = False) -> float:
    """One thread appends n items on the right while another pops them from
    the left: Mops/s of items delivered. The consumer polls (catching the
    empty error) unless ``wait``: then it blocks in popleft(timeout)."""
    d = make()
    obj = object()
    start = threading.Barrier(3)

    def producer():
        append = d.append
        start.wait()
        for _ in range(n):
            append(obj)

    def consumer():
        popleft = d.popleft
        got = 0
        start.wait()
        if wait:
            while got < n:
                popleft(10.0)
                got += 1
            return
        while got < n:
            try:
                popleft()
                got += 1
            except (IndexError, RuntimeError):  # empty: try again
                pass

    ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return n / (time.perf_counter() - t0) / 1e6


def _pipeline_batches(make, n=PIPE_ITEMS, batch: int = 64) -> float:
    """1 appender + 1 left-popper moving batches: extend(64 items) and
    popleft_many(64) waiting in C (ftkit's batch API; ft_utils has none)."""
    d = make()
    items = [object()] * batch
    start = threading.Barrier(3)

    def producer():
        extend = d.extend
        start.wait()
        for _ in range(n // batch):
            extend(items)

    def consumer():
        popleft_many = d.popleft_many
        got = 0
        start.wait()
        while got < (n // batch) * batch:
            got += len(popleft_many(batch, 10.0))

    ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return (n // batch) * batch / (time.perf_counter() - t0) / 1e6


def extra(repeat: int = 3, scale: float = 1.0) -> list[Result]:
    import collections

    import ftkit

    n = max(2000, int(PIPE_ITEMS * scale))
    impls = [("ftkit ConcurrentDeque", ftkit.ConcurrentDeque, False),
             ("ftkit ConcurrentDeque, popleft(timeout) waits", ftkit.ConcurrentDeque, True),
             ("stdlib collections.deque", collections.deque, False)]
    ft = try_import("ft_utils.concurrency")
    if ft is not None and hasattr(ft, "ConcurrentDeque"):
        impls.append(("ft_utils ConcurrentDeque", ft.ConcurrentDeque, False))
    out = []
    for name, make, wait in impls:
        best = max(_pipeline(make, n, wait) for _ in range(repeat))
        out.append(Result("deques", "1 appender + 1 left-popper", name, float("nan"),
                          {"1P+1C": best}))
    best = max(_pipeline_batches(ftkit.ConcurrentDeque, n) for _ in range(repeat))
    out.append(Result("deques", "1 appender + 1 left-popper",
                      "ftkit ConcurrentDeque, extend(64) + popleft_many(64, timeout)",
                      float("nan"), {"1P+1C": best}))
    return out
