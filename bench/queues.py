"""Queue workloads: push+pop on one thread, 1 producer + 1 consumer, batches.

ftkit ConcurrentQueue / StdConcurrentQueue beside queue.Queue,
queue.SimpleQueue and the peers' queues where installed. The raw cffi floor
is one ftk_queue_push + one ftk_queue_try_pop_v call with a word from a local.
"""
from __future__ import annotations

import threading
import time

from _harness import Case, Result, try_import

PIPE_ITEMS = 200_000


def _shared() -> dict:
    import queue

    import ftkit
    from ftkit._lib import lib

    cq = ftkit.ConcurrentQueue()
    return {"cq": cq, "sq": ftkit.StdConcurrentQueue(), "qq": queue.Queue(),
            "simple": queue.SimpleQueue(), "lib": lib, "h": cq._h, "obj": object(),
            "batch1": [object()], "batch16": [object()] * 16, "batch64": [object()] * 64}


def cases() -> list[Case]:
    F = "queues"
    out = [
        Case(F, "push+pop", "ftkit ConcurrentQueue", "cq.push(obj); cq.pop()", shared=_shared),
        Case(F, "push+pop", "ftkit StdConcurrentQueue put/get", "sq.put(obj); sq.get()",
             shared=_shared),
        Case(F, "push+pop", "ftkit raw cffi push + try_pop_v", "push(h, 5, 0); pop(h)",
             "push = lib.ftk_queue_push; pop = lib.ftk_queue_try_pop_v", shared=_shared),
        Case(F, "push+pop", "stdlib queue.Queue", "qq.put(obj); qq.get()", shared=_shared,
             number=50_000),
        Case(F, "push+pop", "stdlib queue.SimpleQueue", "simple.put(obj); simple.get()",
             shared=_shared),
    ]
    for n in (1, 16, 64):
        out.append(Case(F, f"push_many+pop_many per item, batch {n}",
                        "ftkit ConcurrentQueue",
                        f"cq.push_many(batch{n}); cq.pop_many({n})", shared=_shared,
                        number=max(2000, 100_000 // n), per_op=n))
    ft = try_import("ft_utils.concurrency")
    if ft is not None:
        out.append(Case(F, "push+pop", "ft_utils ConcurrentQueue", "fq.push(obj); fq.pop()",
                        shared=lambda: {"fq": ft.ConcurrentQueue(), "obj": object()},
                        number=50_000))
    return out


def _pipeline(make, push_name, pop_name, n=PIPE_ITEMS) -> float:
    """1 producer + 1 consumer through one queue: Mops/s of items delivered."""
    q = make()
    push, pop = getattr(q, push_name), getattr(q, pop_name)
    obj = object()
    start = threading.Barrier(3)

    def producer():
        start.wait()
        for _ in range(n):
            push(obj)

    def consumer():
        start.wait()
        for _ in range(n):
            pop()

    ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return n / (time.perf_counter() - t0) / 1e6


def extra(repeat: int = 3, scale: float = 1.0) -> list[Result]:
    import queue

    import ftkit

    n = max(2000, int(PIPE_ITEMS * scale))
    impls = [("ftkit ConcurrentQueue", ftkit.ConcurrentQueue, "push", "pop"),
             ("ftkit StdConcurrentQueue put/get", ftkit.StdConcurrentQueue, "put", "get"),
             ("stdlib queue.Queue", queue.Queue, "put", "get"),
             ("stdlib queue.SimpleQueue", queue.SimpleQueue, "put", "get")]
    ft = try_import("ft_utils.concurrency")
    if ft is not None:
        impls.append(("ft_utils ConcurrentQueue", ft.ConcurrentQueue, "push", "pop"))
    out = []
    for name, make, pu, po in impls:
        k = n if "queue.Queue" not in name else n // 4
        best = max(_pipeline(make, pu, po, k) for _ in range(repeat))
        out.append(Result("queues", "1 producer + 1 consumer", name, float("nan"),
                          {"1P+1C": best}))
    return out
