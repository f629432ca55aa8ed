"""The lifecycle and interrupt contract (docs/design.md, "Lifecycle contract").

For every primitive: close/free/shutdown racing with every operation never
fabricates a value and never loses one that was put in; an interrupt (a
signal handler raising) leaves a call either completed or without effect;
bound methods and other callables we hand out keep their object alive.
Storms are bounded in time and run on both interpreters.
"""
from __future__ import annotations

import gc
import threading
import time

import pytest

import ftkit
from ftkit import ConcurrentDict

from conftest import run_threads


# -- ConcurrentDict.clear terminates while others insert (issue 10.4) -------------

def test_dict_clear_terminates_while_threads_insert():
    d = ConcurrentDict()
    stop = threading.Event()
    cleared = []

    def body(i: int) -> None:
        if i == 0:
            try:
                for _ in range(5):
                    t0 = time.monotonic()
                    d.clear()
                    cleared.append(time.monotonic() - t0)
            finally:
                stop.set()
            return
        # a bounded key range, re-inserted as fast as possible: the old clear
        # (drain until a sweep finds little) never ended against this
        keys = range(i * 100_000, i * 100_000 + 4000)
        while not stop.is_set():
            for k in keys:
                d[k] = k

    run_threads(5, body, timeout=120)
    assert len(cleared) == 5
    assert max(cleared) < 60, cleared
    d.clear()
    assert len(d) == 0


def test_dict_clear_removes_everything_present():
    d = ConcurrentDict()
    for i in range(3000):
        d[i] = str(i)
    d.clear()
    assert len(d) == 0 and list(d) == []
    d[1] = 2
    assert dict(d.items()) == {1: 2}
