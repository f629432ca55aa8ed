"""ft_utils-compatible module layout: ``from ftkit.concurrency import ...``.

Holds the names ft_utils' ``concurrency`` module has (LocalWrapper included,
as there), plus ftkit's own ``ABSENT`` and ``EmptyDequeError``.
"""
from __future__ import annotations

from ._compat import Empty, Full, ShutDown
from .atomic import AtomicFlag, AtomicInt64, AtomicReference
from .counter import AtomicCounter
from .deque import ConcurrentDeque, EmptyDequeError
from .dicts import ABSENT, ConcurrentDict
from .gather import ConcurrentGatheringIterator
from .local import LocalWrapper
from .queues import ConcurrentQueue, StdConcurrentQueue
from .semaphore import ProcessSemaphore

__all__ = ["ABSENT", "AtomicCounter", "AtomicFlag", "AtomicInt64", "AtomicReference", "ConcurrentDeque",
           "ConcurrentDict", "ConcurrentGatheringIterator", "ConcurrentQueue", "Empty",
           "EmptyDequeError", "Full", "LocalWrapper", "ProcessSemaphore", "ShutDown",
           "StdConcurrentQueue"]
