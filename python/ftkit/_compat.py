"""Names that differ between Python versions."""
from __future__ import annotations

import queue
import sys

if sys.version_info >= (3, 13):
    ShutDown = queue.ShutDown
else:  # pragma: no cover - exercised on 3.9-3.12 only

    class ShutDown(Exception):
        """Raised by put/get on a queue that was shut down (queue.ShutDown on 3.13+)."""


Empty = queue.Empty
Full = queue.Full


def gil_enabled() -> bool:
    """True when the interpreter runs with the GIL (always on non-free-threaded builds)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())
