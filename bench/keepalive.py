"""Keep-alive designs for Python objects stored as words in C (issue 3).

One op = keep one object alive under a word, then release it and get the
object back: the cost every push+pop / set+replace pays on top of the
container itself. Each design is written inline, as a container method
would use it (no helper frames), and runs through the same harness as the
other families (1 thread ns/op; 1 and 2 threads sharing one table, Mops/s).

  A  per-op C word: ftk_slot_alloc_v() / ftk_slot_free() + a dict word->obj
  B  words taken and freed 64 at a time through ftk_slot_*_many, kept in
     spare/dead lists + a dict word->obj
  P  (chosen: ftkit._keepalive.SlotTable) a list arena owned by the
     container + a list of free indices
  H  ffi.new_handle(obj) kept in a dict address->handle
  L  a global list arena indexed by C slot index (cheapest, but the list is
     a GC root: cycles through a container would never be collected)
"""
from __future__ import annotations

from _harness import Case


def _shared() -> dict:
    from ftkit._lib import ffi, lib

    t = _BatchedWords()
    arena = [None] * 4096
    return {"lib": lib, "ffi": ffi, "t": t, "objs": t.objs, "obj": object(),
            "arena": arena, "handles": {}}


class _BatchedWords:
    """Design B's state: a dict plus spare/dead word lists."""

    def __init__(self):
        import threading

        self.objs, self._spare, self._dead = {}, [], []
        self._lock = threading.Lock()

    def _refill(self):
        from ftkit._lib import ffi, lib

        buf = ffi.new("uint64_t[]", 64)
        lib.ftk_slot_alloc_many(buf, 64)
        words = ffi.unpack(buf, 64)
        w = words.pop()
        self._spare.extend(words)
        return w

    def _flush(self):
        from ftkit._lib import ffi, lib

        with self._lock:
            batch = self._dead[:64]
            del self._dead[:len(batch)]
        lib.ftk_slot_free_many(batch, len(batch), ffi.NULL)


A = """w = alloc()
objs[w] = obj
o = objs.pop(w)
free(w)"""
B = """try:
    w = spare.pop()
except IndexError:
    w = t._refill()
objs[w] = obj
o = objs.pop(w)
dead.append(w)
if len(dead) >= 64:
    t._flush()"""
H = """h = new_handle(obj)
w = int(cast("uintptr_t", h))
handles[w] = h
o = from_handle(handles.pop(w))"""
L = """w = alloc()
i = w & 0xffffffff
if i >= len(arena):
    arena.extend([None] * i)
arena[i] = obj
o = arena[i]
arena[i] = None
free(w)"""


P = """try:
    i = free.pop()
except IndexError:
    i = grow()
arena[i] = obj
o = arena[i]
arena[i] = None
free.append(i)"""


def _pshared() -> dict:
    d = _shared()
    arena = [None] * 64
    free = list(range(63, -1, -1))

    def grow():
        n = len(arena)
        arena.extend([None] * n)
        free.extend(range(2 * n - 1, n, -1))
        return n

    d.update(parena=arena, pfree=free, pgrow=grow)
    return d


def cases() -> list[Case]:
    F = "keepalive"
    return [
        Case(F, "store+take", "A per-op C word + dict", A,
             "alloc = lib.ftk_slot_alloc_v; free = lib.ftk_slot_free", shared=_shared),
        Case(F, "store+take", "B batched C words + dict", B,
             "spare = t._spare; dead = t._dead", shared=_shared),
        Case(F, "store+take", "H ffi.new_handle + dict", H,
             "new_handle = ffi.new_handle; from_handle = ffi.from_handle; cast = ffi.cast",
             shared=_shared),
        Case(F, "store+take", "P per-container list arena + free list (chosen)", P,
             "arena = parena; free = pfree; grow = pgrow", shared=_pshared),
        Case(F, "store+take", "L global list arena (rejected: GC root)", L,
             "alloc = lib.ftk_slot_alloc_v; free = lib.ftk_slot_free", shared=_shared),
    ]
