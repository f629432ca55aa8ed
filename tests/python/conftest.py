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


# -- shared by the interrupt and fork tests ----------------------------------------

FTKIT_DIR = os.path.dirname(os.path.abspath(__import__("ftkit").__file__))


class Interrupts:
    """Send real SIGINTs to the main thread, one at a time (each 1-3 ms after
    the previous one's handler ran: the contract covers interrupts that do
    not land inside the recovery from the previous one, docs/design.md
    section 10), hundreds per second, so they land everywhere. The handler
    raises KeyboardInterrupt only when it runs inside an ftkit frame (the
    contract under test); one that lands in the test's own frame, after an
    ftkit call returned, is skipped, since there Python's own rule applies
    (an interrupt after ``x = q.pop()`` returned loses x in any program)."""

    def __init__(self, seed: int = 7):
        self.raised = 0
        self.seed = seed
        self.stop = threading.Event()
        self.handled = threading.Event()
        self.gate = None  # an Event, if set: the sender waits for it before each signal
        self.sent = 0  # signals sent (by the sender thread)
        self.seen = 0  # handler runs (main thread)

    def handler(self, signum, frame):
        self.seen += 1
        self.handled.set()
        if frame is not None and frame.f_code.co_filename.startswith(FTKIT_DIR):
            self.raised += 1
            raise KeyboardInterrupt

    def __enter__(self):
        import random
        import signal
        import time

        self.old = signal.signal(signal.SIGINT, self.handler)
        main = threading.main_thread().ident
        rng = random.Random(self.seed)

        def sender():
            while not self.stop.is_set():
                time.sleep(0.001 + rng.random() * 0.002)
                gate = self.gate
                while gate is not None and not gate.wait(0.05) and not self.stop.is_set():
                    pass  # the test's recovery from the previous interrupt is not over yet
                self.handled.clear()
                self.sent += 1
                signal.pthread_kill(main, signal.SIGINT)
                # one at a time: the next only once this one's handler ran
                while not self.handled.wait(0.05) and not self.stop.is_set():
                    pass

        self.thread = threading.Thread(target=sender, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        import signal
        import time

        self.stop.set()
        self.thread.join()
        # Let every signal sent run under our handler before the old one
        # (Python's default raises KeyboardInterrupt) is back: PyPy may run
        # a pending handler well after the signal arrived.
        end = time.monotonic() + 5.0
        while self.seen < self.sent and time.monotonic() < end:
            time.sleep(0.001)
        signal.signal(signal.SIGINT, self.old)


def wait_child(pid: int, timeout: float = 20.0) -> int:
    """A forked child's exit code; a child that hangs is killed and fails."""
    import signal
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("a forked child hung (a lock held by a parent thread at fork time?)")
