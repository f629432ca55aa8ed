"""ProcessSemaphore workloads.

* uncontended ``async with sem: pass`` on one event loop (ns per pair):
  ftkit, ft_utils 0.2.0's ProcessSemaphore when installed, and
  ``asyncio.Semaphore`` (one loop only, so not a substitute; the reference
  for what an acquire/release pair costs in asyncio);
* the raw cffi floor of the fast path (``ftk_sem_try_acquire`` +
  ``ftk_sem_release_word``) and the thread form (``acquire_blocking`` +
  ``release``) as timeit rows;
* cross-loop handoff: k threads (2 and 4), each running its own loop with
  tasks doing ``async with sem: await asyncio.sleep(0)`` on a semaphore of
  value 1, so nearly every acquire waits and every release hands the permit
  to a task of another loop (``call_soon_threadsafe``). Aggregate
  acquisitions per second, ftkit against ft_utils in the same run.

Run alone: ``python bench/semaphore.py [--quick]``; bench/run.py runs it as
the ``semaphore`` family.
"""
from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import Case, Result, try_import  # noqa: E402


def _shared() -> dict:
    import ftkit
    from ftkit._lib import lib

    s = ftkit.ProcessSemaphore(1)
    return {"s": s, "h": s._h, "lib": lib}


def cases() -> list[Case]:
    F = "semaphore"
    return [
        Case(F, "uncontended pair", "raw cffi try_acquire(h); release_word(h)",
             "t(h); r(h)", "t, r = lib.ftk_sem_try_acquire, lib.ftk_sem_release_word",
             shared=_shared, threads=(1,), note="the binding's floor: two cffi calls"),
        Case(F, "uncontended pair", "ftkit acquire_blocking(); release() (threads)",
             "a(); r()", "a, r = s.acquire_blocking, s.release", shared=_shared, threads=(1,)),
    ]


def _impls() -> list[tuple[str, object]]:
    import ftkit

    out: list[tuple[str, object]] = [("ftkit ProcessSemaphore", ftkit.ProcessSemaphore)]
    fu = try_import("ft_utils.concurrency")
    if fu is not None and hasattr(fu, "ProcessSemaphore"):
        out.append(("ft_utils ProcessSemaphore", fu.ProcessSemaphore))
    out.append(("asyncio.Semaphore (one loop only)", asyncio.Semaphore))
    return out


def _uncontended(make, n: int, form: str) -> float:
    async def body() -> float:
        s = make(1)
        t0 = time.perf_counter()
        if form == "with":
            for _ in range(n):
                async with s:
                    pass
        else:
            acq, rel = s.acquire, s.release
            for _ in range(n):
                await acq()
                rel()
        return (time.perf_counter() - t0) / n * 1e9

    return asyncio.run(body())


def _empty_loop(n: int) -> float:
    async def body() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            pass
        return (time.perf_counter() - t0) / n * 1e9

    return asyncio.run(body())


def _handoff(make, k: int, tasks: int, rounds: int) -> float:
    s = make(1)
    barrier = threading.Barrier(k + 1)
    done = [0] * k

    def thread(i: int) -> None:
        async def worker() -> None:
            for _ in range(rounds):
                async with s:
                    await asyncio.sleep(0)
                done[i] += 1

        async def main() -> None:
            barrier.wait()
            await asyncio.gather(*(worker() for _ in range(tasks)))

        asyncio.run(main())

    ts = [threading.Thread(target=thread, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    return sum(done) / dt


def extra(repeat: int = 3, scale: float = 1.0) -> list[Result]:
    F = "semaphore"
    n = max(2000, int(200_000 * scale))
    out = []
    floor = min(_empty_loop(n) for _ in range(repeat))
    for name, make in _impls():
        for form, label in (("with", "uncontended async with (ns/pair)"),
                            ("calls", "uncontended await acquire(); release() (ns/pair)")):
            ns = min(_uncontended(make, n, form) for _ in range(max(3, repeat))) - floor
            out.append(Result(F, label, name, ns, {"v": ns}))
    rounds = max(20, int(400 * scale))
    for k in (2, 4):
        for name, make in _impls():
            if name.startswith("asyncio"):
                continue  # bound to one loop
            best = max(_handoff(make, k, 4, rounds) for _ in range(max(3, repeat)))
            out.append(Result(F, f"cross-loop handoff, {k} threads x 4 tasks, value 1 "
                                 "(acquisitions/s)", name, 0.0, {"v": best}))
    return out


if __name__ == "__main__":
    import argparse

    from _harness import interpreter, run_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    scale = 0.05 if a.quick else 1.0
    print(f"# {interpreter()}")
    for c in cases():
        r = run_case(c, repeat=a.repeat, scale=scale)
        print(f"| {r.name} | {r.impl} | {r.ns_per_op:.0f} ns |")
    for r in extra(repeat=a.repeat, scale=scale):
        print(f"| {r.name} | {r.impl} | {r.mops['v']:.0f} |", flush=True)
