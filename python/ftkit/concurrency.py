"""ft_utils-compatible module layout: ``from ftkit.concurrency import ...``."""
from __future__ import annotations

from ._compat import Empty, Full, ShutDown
from .atomic import AtomicFlag, AtomicInt64, AtomicReference
from .counter import AtomicCounter, AtomicCounterView
from .deque import ConcurrentDeque, EmptyDequeError
from .dicts import ABSENT, ConcurrentDict
from .queues import ConcurrentQueue, StdConcurrentQueue

__all__ = ["ABSENT", "AtomicCounter", "AtomicCounterView", "ConcurrentDeque", "ConcurrentDict", "EmptyDequeError", "AtomicFlag", "AtomicInt64", "AtomicReference", "ConcurrentQueue", "Empty",
           "Full", "ShutDown", "StdConcurrentQueue"]
