"""The one mechanism that keeps Python objects alive while C holds their words.

libftkit containers store 64-bit words and never touch reference counts.
Each ftkit container that stores Python objects owns a :class:`SlotTable`:

* a ``dict`` mapping word -> object. It holds the strong reference for as
  long as some C container holds the word, and because the dict belongs to
  the Python container object, the cycle collector sees the edge
  container -> dict -> object: cycles through a container are collectable,
  and collecting the container releases every object it still holds.
* words come from libftkit's slot allocator (``ftk_slot_*``): unique,
  generation-tagged (a freed index comes back with a new generation, so a
  word never names two objects over time), handed out from per-thread caches
  on the C side. The table takes them 64 at a time and frees them 64 at a
  time, so the FFI cost is amortised away from the per-item path.

Readers that load a word they do not own (``AtomicReference.get``, dict
lookups) call :meth:`SlotTable.peek`: if the word was released in between,
the entry is gone and they retry with a fresh load. Words are never recycled
within a table without a generation bump, so a reader can never get another
object under an old word (no ABA).

Thread-safety with the GIL disabled: ``dict`` and ``list`` operations used
here are atomic per object in free-threaded CPython; the two batch refills
are serialised by a lock that is only taken once per 64 operations.
"""
from __future__ import annotations

import threading
from typing import Any, Iterable

from ._lib import ffi, lib

BATCH = 64
_MISSING: Any = object()


class SlotTable:
    __slots__ = ("objs", "_spare", "_dead", "_lock", "__weakref__")

    def __init__(self) -> None:
        self.objs: dict[int, Any] = {}
        self._spare: list[int] = []
        self._dead: list[int] = []
        self._lock = threading.Lock()

    # -- words ------------------------------------------------------------
    def _refill(self) -> int:
        buf = ffi.new("uint64_t[]", BATCH)
        st = lib.ftk_slot_alloc_many(buf, BATCH)
        if st:
            raise MemoryError("libftkit: no free slot words")
        words = ffi.unpack(buf, BATCH)
        w = words.pop()
        self._spare.extend(words)
        return w

    def _flush(self) -> None:
        with self._lock:
            dead = self._dead
            batch = dead[:BATCH]
            del dead[: len(batch)]  # others only append, so these are ours
        if batch:
            lib.ftk_slot_free_many(batch, len(batch), ffi.NULL)

    # -- objects ----------------------------------------------------------
    def put(self, obj: Any) -> int:
        """Keep ``obj`` alive under a fresh word and return the word."""
        try:
            w = self._spare.pop()
        except IndexError:
            w = self._refill()
        self.objs[w] = obj
        return w

    def put_many(self, objs: Iterable[Any]) -> list[int]:
        """Keep each object alive under its own fresh word; words in order."""
        items = objs if isinstance(objs, list) else list(objs)
        n = len(items)
        if n == 0:
            return []
        spare = self._spare
        words: list[int] = []
        while len(words) < n:
            try:
                words.append(spare.pop())
            except IndexError:
                words.append(self._refill())
        self.objs.update(zip(words, items))
        return words

    def take(self, w: int) -> Any:
        """Release word ``w`` (owned by the caller) and return its object."""
        obj = self.objs.pop(w)
        dead = self._dead
        dead.append(w)
        if len(dead) >= BATCH:
            self._flush()
        return obj

    def take_many(self, words: list[int]) -> list[Any]:
        out = list(map(self.objs.pop, words))  # a C-level loop, no bytecode per item
        dead = self._dead
        dead.extend(words)
        while len(dead) >= BATCH:
            self._flush()
        return out

    def discard(self, w: int) -> None:
        """Release a word whose object the caller does not need."""
        if self.objs.pop(w, _MISSING) is not _MISSING:
            self._dead.append(w)
            if len(self._dead) >= BATCH:
                self._flush()

    def peek(self, w: int) -> Any:
        """The object under ``w`` without releasing it, or ``MISSING``."""
        return self.objs.get(w, _MISSING)

    def close(self) -> None:
        """Drop every object and return all words to libftkit."""
        with self._lock:
            words = list(self.objs) + self._spare + self._dead
            self.objs.clear()
            self._spare.clear()
            self._dead.clear()
        # Words still held by objs were allocated too: give them all back.
        if words:
            lib.ftk_slot_free_many(words, len(words), ffi.NULL)

    def __len__(self) -> int:
        return len(self.objs)

    def __del__(self) -> None:
        try:
            words = list(self.objs) + self._spare + self._dead
            if words:
                lib.ftk_slot_free_many(words, len(words), ffi.NULL)
        except Exception:  # interpreter shutdown: the process frees everything
            pass


MISSING = _MISSING
