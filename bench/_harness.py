"""Timing harness shared by the benchmark families.

Each case is a statement run in a tight loop built by ``timeit`` (no Python
frame per iteration beyond the statement itself). Single-thread figures are
ns/op, best of ``repeat`` runs, minus the cost of an empty loop iteration
(measured in the same run), so the number is the statement's own cost.
Multi-thread figures run the same loop in ``k`` threads released by a
barrier and report aggregate Mops/s (total operations / wall time), best of
``repeat`` runs.

A case's ``setup`` runs once per thread (its names are thread-local), while
``shared`` (a dict) holds objects every thread sees: that is the contended
object.
"""
from __future__ import annotations

import gc
import sys
import threading
import time
import timeit
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Case:
    family: str
    name: str  # workload, e.g. "incr"
    impl: str  # "ftkit", "ftkit raw cffi", "stdlib Lock+int", "ft_utils", ...
    stmt: str
    setup: str = "pass"
    shared: Callable[[], dict] = dict
    number: int = 200_000
    threads: tuple = (1, 2)
    note: str = ""
    per_op: int = 1  # items per statement (batch workloads report per item)
    pairs: bool = False  # threads come in producer/consumer pairs: even counts only


@dataclass
class Result:
    family: str
    name: str
    impl: str
    ns_per_op: float
    mops: dict = field(default_factory=dict)  # "1T", "2T", "1P+1C" -> aggregate Mops/s
    note: str = ""


def _loop_overhead(number: int, repeat: int) -> float:
    t = timeit.Timer("pass")
    return min(t.repeat(repeat=repeat, number=number)) / number


def _run_threads(case: Case, k: int, shared: dict) -> float:
    per = case.number
    barrier = threading.Barrier(k + 1)
    errors: list = []

    spans: list = []

    def body() -> None:
        try:
            timer = timeit.Timer(case.stmt, case.setup, globals=dict(shared))
            barrier.wait()
            t0 = time.perf_counter()
            timer.timeit(per)
            spans.append((t0, time.perf_counter()))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            barrier.abort()

    ts = [threading.Thread(target=body) for _ in range(k)]
    for t in ts:
        t.start()
    barrier.wait()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    # Each worker reads the clock itself: a coordinating thread that is
    # descheduled after the barrier (2 cores, k workers) would otherwise
    # start the clock late and overstate the rate.
    dt = max(e for _, e in spans) - min(b for b, _ in spans)
    return per * k / dt / 1e6


def run_case(case: Case, repeat: int = 5, scale: float = 1.0) -> Result:
    case.number = max(1000, int(case.number * scale))
    shared = case.shared()
    timer = timeit.Timer(case.stmt, case.setup, globals=dict(shared))
    gc.collect()
    best = min(timer.repeat(repeat=repeat, number=case.number)) / case.number
    ns = max(0.0, best - _loop_overhead(case.number, repeat)) * 1e9 / case.per_op
    res = Result(case.family, case.name, case.impl, ns, note=case.note)
    for k in case.threads:
        res.mops[f"{k}T"] = case.per_op * max(
            _run_threads(case, k, shared) for _ in range(max(1, repeat // 2)))
    return res


def interpreter() -> str:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    ft = "t" if "free-threading" in sys.version or not gil else ""
    return f"CPython {sys.version.split()[0]}{ft} GIL {'on' if gil else 'off'}"


def try_import(name: str) -> Any:
    """The module ``name`` (dotted names give the submodule), or None."""
    import importlib

    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a peer that is missing or broken is skipped
        return None
