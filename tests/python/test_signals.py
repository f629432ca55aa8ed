"""Ctrl-C reaches a thread blocked in ftkit: blocking calls wait in bounded
slices, so the interpreter runs signal handlers while they wait."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SCRIPT = r"""
import sys, time, ftkit
q = {kind}
print("ready", flush=True)
t0 = time.monotonic()
try:
    {call}
except KeyboardInterrupt:
    print("interrupted after %.2f s" % (time.monotonic() - t0), flush=True)
    sys.exit(0)
sys.exit(3)
"""

CASES = {
    "ConcurrentQueue.pop": ("ftkit.ConcurrentQueue()", "q.pop()"),
    "ConcurrentQueue.pop_many": ("ftkit.ConcurrentQueue()", "q.pop_many(10)"),
    "StdConcurrentQueue.get": ("ftkit.StdConcurrentQueue()", "q.get()"),
    "StdConcurrentQueue.put (full)": ("ftkit.StdConcurrentQueue(1); q.put(0)", "q.put(1)"),
    "StdConcurrentQueue.join": ("ftkit.StdConcurrentQueue(); q.put(0)", "q.join()"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sigint_interrupts_blocked_call(name):
    kind, call = CASES[name]
    flags = [] if getattr(sys, "_is_gil_enabled", lambda: True)() else ["-X", "gil=0"]
    p = subprocess.Popen([sys.executable, *flags, "-c", SCRIPT.format(kind=kind, call=call)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # let it block
    os.kill(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert out.startswith("interrupted after")
