"""Timeouts and sliced waits: the Python half of the one blocking layer.

Every blocking call of every ftkit primitive waits inside C in *slices* of
at most ``WAIT_SLICE`` seconds (each a real OS wait woken by the event, not a
poll) and returns to the interpreter between slices, where pending signal
handlers run: Ctrl-C interrupts a blocked call with or without the GIL, and
timeouts are kept against ``time.monotonic()``.

Timeout arguments follow ``threading.Lock.acquire`` and ``queue.Queue``:
``None`` waits forever; an int or float (bool counts as an int, as it does
for them: ``True`` is one second) waits that long; a negative value raises
ValueError, NaN raises ValueError, a value above ``threading.TIMEOUT_MAX``
(infinity included) raises OverflowError, anything else TypeError.
(queue.Queue itself hangs on NaN and only fails on huge values once it has
to wait; ftkit checks the argument up front, when the call has to wait.)
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any

__all__ = ["WAIT_SLICE", "SLICE_NS", "deadline", "slice_ns", "expired"]

#: Longest single wait inside C before returning to the interpreter (seconds).
WAIT_SLICE = 0.05
SLICE_NS = int(WAIT_SLICE * 1e9)
_TIMEOUT_MAX = threading.TIMEOUT_MAX
_monotonic = time.monotonic


def check_timeout(timeout: Any) -> float | None:
    """``timeout`` validated as threading/queue do; returns it as a number."""
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
    if isinstance(timeout, float) and math.isnan(timeout):
        raise ValueError("Invalid value NaN (not a number)")
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    if timeout > _TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return timeout


def deadline(timeout: Any) -> float | None:
    """The ``time.monotonic()`` instant a wait of ``timeout`` seconds ends
    (None: never), after validating ``timeout``."""
    timeout = check_timeout(timeout)
    if timeout is None:
        return None
    return _monotonic() + timeout


def slice_ns(deadline: float | None) -> int:
    """Nanoseconds to wait in the next slice (0 once the deadline passed)."""
    if deadline is None:
        return SLICE_NS
    left = deadline - _monotonic()
    if left <= 0:
        return 0
    return min(SLICE_NS, int(left * 1e9) + 1)


def expired(deadline: float | None) -> bool:
    return deadline is not None and _monotonic() >= deadline
