"""Shared fixtures for the pytest suite.

The suite runs against whatever libftkit the loader finds: a CMake build tree
(FTKIT_LIBRARY set by scripts/test.sh) or an installed wheel. On the
free-threaded lane scripts/test.sh sets FTKIT_EXPECT_FREE_THREADED=1, and the
session refuses to run unless the GIL is really disabled.

On PyPy (scripts/test.sh stage 9) objects are not freed when their last
reference goes: tests that check a release use ``collect()`` first, and
identity of equal ints/floats is value identity there (``PYPY``).
"""
from __future__ import annotations

import gc
import os
import platform
import sys
import threading
from typing import Callable

import pytest


def pytest_report_header(config):
    import ftkit

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return [f"ftkit {ftkit.__version__} from {ftkit.library_path}",
            f"GIL {'enabled' if gil else 'DISABLED'} ({sys.version.split()[0]})"]


def pytest_sessionstart(session):
    if os.environ.get("FTKIT_EXPECT_FREE_THREADED") == "1":
        check = getattr(sys, "_is_gil_enabled", None)
        if check is None or check():
            raise pytest.UsageError(
                "FTKIT_EXPECT_FREE_THREADED=1 but the GIL is enabled: run a "
                "free-threaded build with -X gil=0")


FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
PYPY = platform.python_implementation() == "PyPy"


def collect() -> None:
    """Free what has become unreachable. CPython already did (reference
    counting) and this only costs a collection; PyPy frees objects at a
    collection only, and finalisers or weakref callbacks run then may drop
    more references, hence a few passes."""
    for _ in range(3 if PYPY else 1):
        gc.collect()


def collect_if_pypy() -> None:
    """Before checking that something was released "at once": on CPython
    nothing (the check stays a check of reference counting), on PyPy a
    collection (the check becomes: nothing keeps it)."""
    if PYPY:
        collect()


def run_threads(n: int, fn: Callable[[int], object], timeout: float = 120.0) -> list:
    """Run fn(i) for i in range(n) on n threads released together.

    Returns the results in thread order; re-raises the first exception a
    thread raised; fails if a thread does not finish within ``timeout``.
    """
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            pytest.fail(f"thread did not finish within {timeout} s")
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def threads():
    return run_threads
