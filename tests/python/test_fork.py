"""fork(): the child inherits no lock held by a thread that does not exist
there, and can keep using ftkit (docs/design.md, "Fork")."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from ftkit import AtomicInt64, AtomicReference

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def test_child_creates_and_uses_objects_while_parent_threads_churn():
    stop = threading.Event()

    def churn():
        # Keep the process-wide locks busy: create/destroy handles and slots.
        while not stop.is_set():
            r = AtomicReference(object())
            r.set(object())
            AtomicInt64(1).incr()

    workers = [threading.Thread(target=churn) for _ in range(3)]
    for w in workers:
        w.start()
    counter = AtomicInt64(41)
    try:
        for _ in range(20):
            pid = os.fork()
            if pid == 0:  # child: only this thread exists now
                code = 1
                try:
                    made = [AtomicInt64(i) for i in range(200)]
                    refs = [AtomicReference(i) for i in range(50)]
                    ok = (counter.incr() == 42 and sum(m.get() for m in made) == 19900
                          and refs[7].get() == 7)
                    del made, refs
                    code = 0 if ok else 2
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert counter.get() == 41  # the parent's counter is untouched by the children


if sys.version_info >= (3, 12):
    # fork() with threads running warns on 3.12+; that warning is the point here.
    test_child_creates_and_uses_objects_while_parent_threads_churn = pytest.mark.filterwarnings(
        "ignore::DeprecationWarning")(test_child_creates_and_uses_objects_while_parent_threads_churn)
