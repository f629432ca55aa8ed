#!/usr/bin/env python3
"""Stress every ftkit primitive under 8-16 threads and check invariants.

    python tests/stress/stress.py [--seconds S] [--threads N] [--only NAME] [--seed N]

Each primitive family found in ``ftkit`` (newer ones such as ConcurrentDeque,
RWLock, IntervalLock, AtomicCounter are picked up with ``hasattr`` as they
land) gets ``S / families`` seconds, split into rounds that alternate between
N/2 and N threads. Every round ends at a quiet point where the invariants are
checked exactly: every item delivered exactly once and per-producer FIFO
(queues), sums conserved (atomics, dict counters), values passed through an
AtomicReference or a dict coming out exactly once, mutual exclusion (flag
spin lock, locks), objects released afterwards (weakref callbacks and a
count of live test objects), slot tables with no leaked or doubly-free
index and a size bounded by what was in flight, C handles back to their
level before the family, and no clear memory growth across rounds. The
gathering iterator yields every key once in key order (also after
duplicate-insert failures and racing closes); the batch executor never runs
source() twice at once and hands every value out once, in production order
per thread; the process semaphore never has more holders than permits
across event loops on many threads with cancellations, and gets every
permit back.

Shutdown rounds race ``shutdown()``, ``shutdown(immediate=True)`` and
``close()`` with the producers and consumers of a queue: afterwards every item
whose push returned was popped exactly once (graceful) or at most once and
then released (immediate/close), a refused ``push_many`` pushed only the
leading items its exception reports (``exc.pushed``; none without it), and
no pop returned a value that was never pushed.

Prints one line per family (ops: method calls, or for queues items pushed
plus items popped; ops/s over the threaded time) and exits 0 when every invariant held, 1 on any
violation (each explained on its own line), 3 when threads hung (their stacks
are printed), 2 on bad arguments. Run by scripts/stress.sh on both
interpreters; docs/design.md ("Stress") records a long run.
"""
from __future__ import annotations

import argparse
import gc
import operator
import os
import random
import re
import sys
import threading
import time
import traceback
import weakref
from array import array
from collections import Counter
from typing import Any, Callable

import ftkit
from ftkit import BadHandleError, Empty, Full, ShutDown

GRACE = 10.0          # s a thread may outlive its round's deadline before "hang"
CLEAR_LIMIT = 10.0    # s one ConcurrentDict.clear() may take while others insert
INFLIGHT = 4096       # producers pause while a queue holds more than this
PUSH_BATCHES = (2, 3, 5, 16, 64, 100, 300)
POP_BATCHES = (1, 2, 7, 32, 64, 257, 1000, 2000)
MAX_MESSAGES = 12     # violations printed per family (the count is always exact)
SHIFT = 32            # queue items are producer << SHIFT | sequence
MASK = (1 << SHIFT) - 1
INT64_MAX = 2**63 - 1


def _wrap64(v: int) -> int:
    v &= 2**64 - 1
    return v - 2**64 if v > INT64_MAX else v


class Token:
    """A test object: who made it and its sequence number; weakref-able."""

    __slots__ = ("p", "s", "__weakref__")

    def __init__(self, p: int, s: int) -> None:
        self.p = p
        self.s = s

    def __repr__(self) -> str:
        return f"Token({self.p}, {self.s})"


class Key:
    """A dict key compared by value; equal keys are distinct objects, and
    the hash k // 2 makes pairs of Keys (and the int key k // 2) collide."""

    __slots__ = ("k", "__weakref__")

    def __init__(self, k: int) -> None:
        self.k = k

    def __hash__(self) -> int:
        return self.k // 2

    def __eq__(self, other: object) -> bool:
        return type(other) is Key and other.k == self.k  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"Key({self.k})"


def live_test_objects() -> int:
    """Tokens and Keys still alive (call at a quiet point, after gc)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Token or type(o) is Key)


def release_check(fam: "Family", what: str, base: int, freed: list, sampled: int) -> None:
    """After a round (its frames gone): every weakref-sampled test object
    was freed (callbacks ran), and no Token or Key outlives the round."""
    live = live_test_objects() - base
    fam.check(len(freed) == sampled, f"{what}{sampled - len(freed)} of {sampled} sampled "
                                     "objects not freed after the round (weakref callbacks)")
    fam.check(live <= 0, f"{what}{live} test objects (items, keys, values) still alive "
                         "after the round: leaked")


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- bookkeeping -------------------------------------------------------------

class Hang(Exception):
    """Threads did not stop even after being told to."""


class Family:
    def __init__(self, name: str, ctx: "Ctx") -> None:
        self.name = name
        self.ctx = ctx
        self.ops = 0
        self.busy = 0.0            # seconds of threaded work (for ops/s)
        self.rounds = 0
        self.errors: list[str] = []
        self._seen: set[str] = set()
        self.nerrors = 0
        self.notes: dict[str, Any] = {}
        self.rss: list[float] = []
        self.blocks: list[int] = []
        self.pending: list[int] = []

    def fail(self, msg: str) -> None:
        """Record a violation; messages that differ only in numbers are
        printed once (the count stays exact)."""
        self.nerrors += 1
        key = re.sub(r"\d+", "#", msg)
        if key not in self._seen and len(self.errors) < MAX_MESSAGES:
            self._seen.add(key)
            self.errors.append(msg)

    def check(self, cond: bool, msg: str) -> bool:
        if not cond:
            self.fail(msg)
        return cond

    def note_max(self, key: str, value: float) -> None:
        self.notes[key] = max(self.notes.get(key, value), value)

    def threads(self, r: int) -> int:
        """Thread count of round r: alternates N/2 and N (at least 2)."""
        n = self.ctx.threads
        return n if r % 2 else max(2, n // 2)

    def run(self, n: int, target: Callable[[int], Any], deadline: float,
            stop: threading.Event | None = None, aux: bool = False) -> list:
        """Run target(i), i < n, on n threads released together; return the
        results. A thread that raises is a violation. Threads still running
        GRACE s after ``deadline`` are reported with their stacks, ``stop``
        is set, and if they still do not end this raises Hang. ``aux``: a
        helper phase, not counted as a round."""
        stop = stop or threading.Event()
        barrier = threading.Barrier(n)
        results: list = [None] * n

        def body(i: int) -> None:
            try:
                barrier.wait()
                results[i] = target(i)
            except BaseException:  # noqa: BLE001 - reported as a violation
                self.fail(f"thread {i} raised:\n{traceback.format_exc().rstrip()}")

        ts = [threading.Thread(target=body, args=(i,), daemon=True,
                               name=f"{self.name}-{i}") for i in range(n)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join(max(0.0, deadline + GRACE - time.monotonic()))
        alive = [t for t in ts if t.is_alive()]
        if alive:
            frames = sys._current_frames()
            stacks = "\n".join(
                f"  --- {t.name}\n" + "".join(traceback.format_stack(frames[t.ident])).rstrip()
                for t in alive if t.ident in frames)
            self.fail(f"{len(alive)} of {n} threads still running {GRACE:.0f} s after the "
                      f"round's deadline (hang or livelock); their stacks:\n{stacks}")
            stop.set()
            for t in alive:
                t.join(GRACE)
            if any(t.is_alive() for t in alive):
                raise Hang(f"{self.name}: threads do not stop")
        self.busy += time.monotonic() - t0
        self.rounds += not aux
        return results

    def quiet_point(self) -> None:
        """Between rounds: collect; record RSS, Python's allocated blocks
        and libftkit's blocks still waiting for reclamation."""
        gc.collect()
        self.pending.append(ftkit.lib.ftk_reclaim_collect())
        self.rss.append(rss_mb())
        # PyPy has no allocated-blocks count: the RSS check alone covers it
        self.blocks.append(sys.getallocatedblocks() if hasattr(sys, "getallocatedblocks")
                           else -1)


class Ctx:
    def __init__(self, seconds: float, threads: int, seed: int) -> None:
        self.seconds = seconds
        self.threads = threads
        self.seed = seed


def rounds_of(budget: float, target: float) -> tuple[int, float]:
    """(count, seconds) of rounds filling ``budget``, each about ``target``."""
    n = max(2, round(budget / target))
    return n, budget / n


# -- slot tables -------------------------------------------------------------

def same_multiset(fam: Family, what: str, ins: array, outs: array) -> None:
    """Every value put in came out exactly once: equal as multisets
    (compared sorted, in C; the details are computed only on failure)."""
    if sorted(ins) != sorted(outs):
        a, b = Counter(ins), Counter(outs)
        fam.fail(f"{what}: {sum((a - b).values())} values put in never came out, "
                 f"{sum((b - a).values())} came out twice or were never put in")


def check_slots(fam: Family, what: str, slots: Any, held: int | None = 0) -> int:
    """At a quiet point: every index of the table is either holding an object
    or free exactly once (free/back lists and runs); ``held`` objects are
    expected (None: do not check the count). Returns the table size."""
    objs = getattr(slots, "objs", None)
    if objs is None:  # (no table, or one laid out differently: nothing to check)
        return 0
    n = len(objs)
    free = list(getattr(slots, "free", []))
    back = getattr(slots, "back", [])
    back = [] if back is getattr(slots, "free", None) else list(back)
    idx = free + back
    for first, count in list(getattr(slots, "runs", [])):
        idx.extend(range(first, first + count))
    holding = [i for i in range(1, n) if objs[i] is not None]
    if held is not None:
        fam.check(len(holding) == held,
                  f"{what}: {len(holding)} slots hold objects at a quiet point, expected {held}")
    c = Counter(idx)
    dup = [i for i, k in c.items() if k > 1]
    fam.check(not dup, f"{what}: {len(dup)} indices are free more than once "
                       f"(e.g. {sorted(dup)[:5]}): two objects would share a slot")
    busy_free = set(holding) & set(c)
    fam.check(not busy_free, f"{what}: {len(busy_free)} indices hold an object and are "
                             f"also free (e.g. {sorted(busy_free)[:5]})")
    bad = [i for i in c if not 0 < i < n]
    fam.check(not bad, f"{what}: free list holds indices outside the table: {bad[:5]}")
    leaked = n - 1 - len(set(holding) | set(c))
    fam.check(leaked <= 0, f"{what}: {leaked} of {n - 1} slot indices leaked "
                           "(neither free nor holding an object)")
    return n


def prim(name: str) -> Any:
    """ftkit's class ``name`` (looked up at run time: newer ones may be absent)."""
    return getattr(ftkit, name)


def table_len(obj: Any) -> int:
    slots = getattr(obj, "_slots", None)
    return len(getattr(slots, "objs", ()))


# -- atomics -----------------------------------------------------------------

def stress_int64(fam: Family, budget: float) -> None:
    AtomicInt64 = prim("AtomicInt64")
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        ticket = AtomicInt64(0)                   # every +1 yields a ticket
        start = INT64_MAX - 5000                  # sums wrap past INT64_MAX
        total = AtomicInt64(start)
        passer = AtomicInt64(-1)                  # exchange: values pass through once
        bits = AtomicInt64(0)                     # thread i owns bit i
        deadline = time.monotonic() + dur

        def worker(i: int) -> tuple:
            rnd = random.Random(fam.ctx.seed * 7919 + r * 131 + i)
            tickets = array("q")
            net = 0
            ops = 0
            outs = array("q")
            nin = 0
            bit = 1 << i  # (threads <= 62: checked in main)
            mine = False
            while time.monotonic() < deadline:
                for _ in range(32):
                    k = rnd.randrange(12)
                    if k == 0:
                        tickets.append(ticket.fetch_add(1))
                    elif k == 1:
                        tickets.append(ticket.incr() - 1)
                    elif k == 2:
                        tickets.append(ticket.add(1) - 1)
                    elif k == 3:
                        while True:
                            v = ticket.get()
                            if ticket.compare_exchange(v, v + 1):
                                tickets.append(v)
                                break
                    elif k == 4:
                        total.incr()
                        total.decr()
                        total.incr()
                        net += 1
                    elif k == 5:
                        d = rnd.randint(-1000, 1000)
                        total.add(d)
                        total.fetch_sub(d // 3)
                        net += d - d // 3
                    elif k == 6:
                        d = rnd.randint(-1000, 1000)
                        total.fetch_add(d)
                        net += d
                    elif k == 7:
                        d = rnd.randint(0, 50)
                        t = total
                        t += d
                        t -= 1
                        net += d - 1
                    elif k == 8:
                        d = rnd.randint(1, 9)
                        while True:
                            v = total.get()
                            if total.compare_exchange(v, _wrap64(v + d)):
                                net += d
                                break
                    elif k == 9:
                        outs.append(passer.exchange(i << 40 | nin))
                        nin += 1
                    else:  # only this thread touches its bit: exact per op
                        op = rnd.randrange(3)
                        if op == 0:
                            old, now = bits.fetch_xor(bit), not mine
                        elif op == 1:
                            old, now = bits.fetch_or(bit), True
                        else:
                            old, now = bits.fetch_and(~bit), False
                        if bool(old & bit) != mine:
                            fam.fail(f"thread {i}: fetch_{('xor', 'or', 'and')[op]} "
                                     f"returned its own bit as {bool(old & bit)}, but it "
                                     f"last left it {mine}")
                        mine = now
                    ops += 1
            return tickets, net, outs, nin, mine, bit, ops

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            continue
        # tickets: 0..N-1, each exactly once
        count = ticket.get()
        seen = bytearray(count)
        dup = bad = 0
        for tickets, *_ in results:
            for t in tickets:
                if not 0 <= t < count:
                    bad += 1
                elif seen[t]:
                    dup += 1
                else:
                    seen[t] = 1
        fam.check(not dup and not bad and seen.count(0) == 0,
                  f"ticket counter at {count}: {dup} tickets handed out twice, "
                  f"{bad} out of range, {seen.count(0)} never handed out")
        expect = _wrap64(start + sum(x[1] for x in results))
        fam.check(total.get() == expect,
                  f"sum not conserved: {total.get()} != {expect} (start {start} + thread deltas)")
        # exchange: every value put in came out exactly once (the last is still inside)
        outs = array("q", [passer.get()])
        ins = array("q", [-1])
        for i, x in enumerate(results):
            outs.extend(x[2])
            ins.extend(range(i << 40, (i << 40) + x[3]))
        same_multiset(fam, "exchange", ins, outs)
        want = sum(x[5] for x in results if x[4])
        fam.check(bits.get() == want, f"bits: {bits.get():#x} != {want:#x} "
                                      "(each thread's own bit as it left it)")
        fam.ops += sum(x[6] for x in results)
        fam.note_max("tickets", count)
        fam.quiet_point()


def stress_flag(fam: Family, budget: float) -> None:
    AtomicFlag = prim("AtomicFlag")
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        flag = AtomicFlag()
        box = [0, -1]          # [plain counter, holder]: guarded by the flag only
        deadline = time.monotonic() + dur

        def worker(i: int) -> tuple[int, int]:
            rnd = random.Random(fam.ctx.seed * 31 + r * 17 + i)
            got = spins = 0
            while time.monotonic() < deadline:
                use_cas = rnd.random() < 0.5
                tries = 0
                while (not flag.compare_exchange(False, True)) if use_cas else flag.test_and_set():
                    tries += 1
                    if tries & 15 == 0:
                        time.sleep(0)  # let a descheduled holder run
                spins += tries
                if box[1] != -1:
                    fam.fail(f"thread {i} entered while thread {box[1]} was inside")
                box[1] = i
                v = box[0]
                if rnd.random() < 0.05:
                    time.sleep(0)  # a holder that gets descheduled
                box[0] = v + 1
                if box[1] != i:
                    fam.fail(f"thread {i}: thread {box[1]} entered while it was inside")
                box[1] = -1
                got += 1
                how = rnd.randrange(3)
                if how == 0:
                    flag.clear()
                elif how == 1:
                    flag.set(False)
                elif not flag.compare_exchange(True, False):
                    fam.fail(f"thread {i}: compare_exchange(True, False) failed on the "
                             "flag it holds")
                    flag.clear()
            return got, spins

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            continue
        total = sum(x[0] for x in results)
        fam.check(box[0] == total, f"spin lock lost updates: counter {box[0]} after "
                                   f"{total} acquisitions (mutual exclusion broken)")
        fam.check(not flag.get(), "flag still set after every holder released it")
        fam.ops += total
        fam.notes["spins/acquire"] = round(sum(x[1] for x in results) / max(1, total), 1)
        fam.quiet_point()


def stress_ref(fam: Family, budget: float) -> None:
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        base = live_test_objects()
        freed: list = []
        refs: list = []     # keeps the weakrefs (and so their callbacks) alive
        sampled = ref_round(fam, r, dur, freed, refs)
        if sampled is None:
            continue  # a thread failed: reported already
        # the round's frame is gone: everything it made must be freed now
        release_check(fam, "", base, freed, sampled)
        fam.quiet_point()


def ref_round(fam: Family, r: int, dur: float, freed: list, refs: list) -> int | None:
    """exchange/compare_exchange/get from n threads; returns how many
    objects were weakref-sampled into refs (None if a thread failed)."""
    n = fam.threads(r)
    first = Token(-1, 0)
    refs.append(weakref.ref(first, freed.append))
    ref = prim("AtomicReference")(first)
    del first
    deadline = time.monotonic() + dur

    def worker(i: int) -> tuple:
        rnd = random.Random(fam.ctx.seed * 101 + r * 7 + i)
        ins = array("q")       # ids put in: i << 32 | s
        outs = array("q")      # ids that came out through our calls
        mine = []
        bad = 0
        s = 0
        ops = 0
        while time.monotonic() < deadline:
            ops += 32
            for _ in range(32):
                k = rnd.randrange(10)
                if k < 4:  # exchange (a quarter of them take the reference to None)
                    if k == 0:
                        new = None
                    else:
                        new = Token(i, s)
                        if s & 7 == 0:  # a sample: the exact check counts live Tokens
                            mine.append(weakref.ref(new, freed.append))
                        s += 1
                    old = ref.exchange(new)
                    if new is not None:
                        ins.append(i << 32 | new.s)
                elif k < 8:  # compare_exchange from what get() saw
                    cur = ref.get()
                    new = Token(i, s)
                    if s & 7 == 0:
                        mine.append(weakref.ref(new, freed.append))
                    s += 1
                    if ref.compare_exchange(cur, new):
                        ins.append(i << 32 | new.s)
                        old = cur
                    else:
                        old = None
                else:
                    old = ref.get()
                    if old is not None and type(old) is not Token:
                        bad += 1
                    old = None
                if old is not None:
                    if type(old) is Token:
                        outs.append(old.p << 32 | old.s)
                    else:
                        bad += 1
                old = new = cur = None
        return ins, outs, mine, bad, s, ops

    results = fam.run(n, worker, deadline)
    if any(x is None for x in results):
        return None
    last = ref.get()
    ins = array("q", [-1 << 32])
    outs = array("q", [] if last is None else [last.p << 32 | last.s])
    del last
    for x in results:
        ins.extend(x[0])
        outs.extend(x[1])
    bad = sum(x[3] for x in results)
    fam.check(not bad, f"{bad} values read or exchanged out that were never put in")
    same_multiset(fam, "exchange/CAS", ins, outs)
    fam.note_max("table", table_len(ref))
    bound = 8 * n + 16
    fam.check(table_len(ref) <= bound,
              f"slot table grew to {table_len(ref)} (> {bound} for {n} threads)")
    ref.set(None)
    check_slots(fam, "AtomicReference", ref._slots, held=0)
    for x in results:
        refs.extend(x[2])
    fam.ops += sum(x[5] for x in results)
    return len(refs)


# -- queues ------------------------------------------------------------------

def check_items(fam: Family, what: str, made: list, status: list | None,
                popped: list, graceful: bool) -> tuple[int, int]:
    """Items are p << SHIFT | s for s < made[p]. status[p][s]: 1 pushed
    (push returned, or among the leading ``exc.pushed`` items of a refused
    push_many), 2 refused by a single push, 3 in a refused push_many past
    what it reported as pushed (must not come out); None: all pushed. Every
    pushed item must come out exactly once (graceful) or at most once, and
    each consumer must see each producer's items in order. Returns
    (popped, pushed)."""
    seen = [bytearray(m) for m in made]
    dup = fab = order = partial = refused = 0
    for out in popped:
        last = [-1] * len(made)
        for v in out:
            p, s = v >> SHIFT, v & MASK
            if not 0 <= p < len(made) or s >= made[p]:
                fab += 1
                continue
            if seen[p][s]:
                dup += 1
            seen[p][s] = 1
            if s <= last[p]:
                order += 1
            last[p] = s
            if status is not None:
                st = status[p][s]
                if st == 3:
                    partial += 1
                elif st == 2:
                    refused += 1
    lost = 0
    pushed = 0
    for p, m in enumerate(made):
        if status is None:
            pushed += m
            lost += seen[p].count(0)
        else:
            for s in range(m):
                if status[p][s] == 1:
                    pushed += 1
                    if graceful and not seen[p][s]:
                        lost += 1
    total = sum(len(o) for o in popped)
    fam.check(not fab, f"{what}: {fab} popped values were never pushed")
    fam.check(not dup, f"{what}: {dup} items popped twice")
    fam.check(not order, f"{what}: {order} items popped out of their producer's order "
                         "(per-producer FIFO)")
    fam.check(not lost, f"{what}: {lost} of {pushed} pushed items never popped")
    fam.check(not partial, f"{what}: {partial} items popped from push_many calls that "
                           "raised, past the count they reported as pushed (exc.pushed): "
                           "a partial push reported as a failure")
    fam.check(not refused, f"{what}: {refused} items popped whose push raised")
    return total, pushed


def _pop_one(q: Any, rnd: random.Random, std: bool) -> list:
    """One pop of either kind; [] on Empty."""
    if std:
        k = rnd.randrange(3)
        try:
            if k == 0:
                v = q.get_nowait()
            elif k == 1:
                t = rnd.choice((0.0, 0.001, 0.01))
                t0 = time.monotonic()
                try:
                    v = q.get(timeout=t)
                except Empty:
                    if time.monotonic() - t0 < t * 0.9:
                        raise RuntimeError(f"get(timeout={t}) raised Empty after "
                                           f"{time.monotonic() - t0:.4f} s") from None
                    raise
            else:
                v = q.get(True, 0.01)
        except Empty:
            return []
        q.task_done()
        return [v]
    if rnd.random() < 0.5:
        t = rnd.choice((0.0, 0.001, 0.01))
        t0 = time.monotonic()
        try:
            return [q.pop(timeout=t)]
        except Empty:
            if time.monotonic() - t0 < t * 0.9:
                raise RuntimeError(f"pop(timeout={t}) raised Empty after "
                                   f"{time.monotonic() - t0:.4f} s") from None
            return []
    try:
        out = q.pop_many(rnd.choice(POP_BATCHES), timeout=rnd.choice((0.0, 0.01)))
    except Empty:
        return []
    if not out:
        raise RuntimeError("pop_many returned [] instead of waiting or raising Empty")
    return out


def _consumer(q: Any, rnd: random.Random, std: bool, done: threading.Event,
              to_int: Callable[[Any], int | None], stop: threading.Event) -> tuple:
    """Pop until the producers are done and the queue is empty, or until
    ShutDown / a closed queue. Returns (items as ints, bad values, ops)."""
    out = array("q")
    bad: list = []
    ops = 0
    got: Any = None
    v: Any = None
    while not stop.is_set():
        ops += 1
        try:
            got = _pop_one(q, rnd, std)
            if not got:
                if not done.is_set():
                    continue
                # every push has returned: a pop that starts now and finds
                # nothing means the queue is empty for good
                got = [q.get_nowait() if std else q.pop(timeout=0)]
                if std:
                    q.task_done()
        except (Empty, ShutDown, BadHandleError):
            break
        for v in got:
            iv = to_int(v)
            if iv is None:
                bad.append(repr(v) if len(bad) < 5 else "")
            else:
                out.append(iv)
        got = v = None
    return out, bad, ops


def _token_int(v: Any) -> int | None:
    return v.p << SHIFT | v.s if type(v) is Token else None


def _plain_int(v: Any) -> int | None:
    return v if type(v) is int else None


def stress_queue_round(fam: Family, q: Any, r: int, dur: float, std: bool) -> None:
    """Producers and consumers over q until the deadline; exact checks."""
    n = fam.threads(r)
    shape = r // 2 % 3
    np = (n // 2, 1, n - 1)[shape]
    deadline = time.monotonic() + dur
    done = threading.Event()
    stop = threading.Event()
    left = [np]
    lock = threading.Lock()
    maxsize = getattr(q, "maxsize", 0)

    def producer(i: int) -> tuple:
        rnd = random.Random(fam.ctx.seed * 13 + r * 1009 + i)
        base = i << SHIFT
        s = 0
        ops = 0
        over = 0
        try:
            while time.monotonic() < deadline and not stop.is_set():
                if std:
                    for _ in range(16):
                        k = rnd.randrange(3)
                        while True:
                            try:
                                if k == 0:
                                    q.put_nowait(base | s)
                                elif k == 1:
                                    q.put(base | s, timeout=rnd.choice((0.001, 0.01)))
                                else:
                                    q.put(base | s)
                                break
                            except Full:
                                if stop.is_set():
                                    return s, ops, over
                                time.sleep(0)
                        s += 1
                        ops += 1
                        if maxsize and q.qsize() > maxsize:
                            over += 1
                    continue
                if q.size() > INFLIGHT:
                    time.sleep(0.0005)
                    continue
                if rnd.random() < 0.4:
                    for _ in range(16):
                        q.push(base | s)
                        s += 1
                    ops += 16
                else:
                    m = rnd.choice(PUSH_BATCHES)
                    items = range(base | s, (base | s) + m)
                    q.push_many(list(items) if rnd.random() < 0.7 else iter(items))
                    s += m
                    ops += 1
        finally:
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    done.set()
        return s, ops, over

    def worker(i: int) -> Any:
        if i < np:
            return producer(i)
        rnd = random.Random(fam.ctx.seed * 17 + r * 1013 + i)
        return _consumer(q, rnd, std, done, _plain_int, stop)

    results = fam.run(n, worker, deadline, stop)
    if any(x is None for x in results):
        return
    made = [x[0] for x in results[:np]]
    popped = [x[0] for x in results[np:]]
    bad = [b for x in results[np:] for b in x[1]]
    fam.check(not bad, f"{len(bad)} pops returned non-items, e.g. "
                       f"{[b for b in bad if b][:3]} (None was never pushed)")
    total, _ = check_items(fam, "round", made, None, popped, graceful=True)
    over = sum(x[2] for x in results[:np])
    fam.check(not over, f"qsize() exceeded maxsize={maxsize} {over} times")
    fam.ops += sum(made) + total  # item operations: each push and each pop
    fam.notes["items"] = fam.notes.get("items", 0) + total
    fam.check(q.qsize() == 0 if std else q.size() == 0, "queue not empty after the drain")
    if std:
        fam.check(q.unfinished_tasks == 0,
                  f"unfinished_tasks = {q.unfinished_tasks} after every get had task_done")
        try:
            q.task_done()
            fam.fail("task_done() beyond the puts did not raise ValueError")
        except ValueError:
            pass
        fam.check(_join_within(q, 2.0), "join() did not return with no unfinished tasks")


def _join_within(q: Any, limit: float) -> bool:
    t = threading.Thread(target=q.join, daemon=True)
    t.start()
    t.join(limit)
    return not t.is_alive()


def stress_shutdown_round(fam: Family, r: int, dur: float, std: bool,
                          freed: list, wrefs: list) -> tuple | None:
    """Producers, consumers and one closer racing on a fresh queue: the
    closer calls shutdown(), shutdown(immediate=True) or close() at a
    random moment; producers and consumers run until refused. Returns
    (mode, weakref to the queue, items weakref-sampled, pushed, popped) for
    the release check the caller makes once this frame is gone (None if a
    thread failed)."""
    cls = prim("StdConcurrentQueue") if std else prim("ConcurrentQueue")
    mode = ("shutdown", "immediate", "close")[r % 3]
    n = fam.threads(r)
    np = max(1, (n - 1) // 2)
    maxsize = (1, 8, 64)[r // 3 % 3] if std else 0
    q = cls(maxsize) if std else cls()
    qref = weakref.ref(q)
    t0 = time.monotonic()
    when = t0 + dur * random.Random(fam.ctx.seed + r).uniform(0.2, 0.8)
    deadline = t0 + dur
    done = threading.Event()
    stop = threading.Event()
    left = [np]
    lock = threading.Lock()
    table = [0]

    def producer(i: int) -> tuple:
        rnd = random.Random(fam.ctx.seed * 19 + r * 211 + i)
        status = bytearray()
        refs: list = []
        items: Any = None
        s = m = 0
        try:
            while not stop.is_set():
                if time.monotonic() > deadline + 2.0:
                    fam.fail(f"{mode}: pushes still accepted 2 s after the shutdown time")
                    break
                m = 0
                try:
                    if not std and q.size() > INFLIGHT:
                        time.sleep(0.0005)
                        continue
                    m = 1 if std or rnd.random() < 0.5 else rnd.choice(PUSH_BATCHES)
                    items = [Token(i, s + j) for j in range(m)]
                    refs.extend(weakref.ref(t, freed.append) for t in items if t.s & 7 == 0)
                    status.extend(b"\x02" * m if m == 1 else b"\x03" * m)
                    s += m
                    if std:
                        while True:
                            try:
                                q.put(items[0], timeout=0.01)
                                break
                            except Full:
                                pass
                    elif m == 1:
                        q.push(items[0])
                    else:
                        q.push_many(items)
                    status[s - m:s] = b"\x01" * m
                except (ShutDown, BadHandleError) as exc:
                    # a refused push_many says how many leading items went in
                    k = getattr(exc, "pushed", None) if m > 1 else None
                    if type(k) is int and 0 < k <= m:
                        status[s - m:s - m + k] = b"\x01" * k
                    break
                finally:
                    items = None
            return s, status, refs
        finally:
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    done.set()

    def closer() -> str:
        time.sleep(max(0.0, when - time.monotonic()))
        table[0] = table_len(q)
        if mode == "close":
            q.close()
        else:
            q.shutdown(immediate=mode == "immediate")
        return mode

    def worker(i: int) -> Any:
        if i == n:
            return closer()
        if i < np:
            return producer(i)
        rnd = random.Random(fam.ctx.seed * 23 + r * 307 + i)
        return _consumer(q, rnd, std, done, _token_int, stop)

    results = fam.run(n + 1, worker, deadline, stop)
    if any(x is None for x in results):
        return None
    made = [x[0] for x in results[:np]]
    status = [x[1] for x in results[:np]]
    popped = [x[0] for x in results[np:n]]
    bad = [b for x in results[np:n] for b in x[1]]
    for x in results[:np]:
        wrefs.extend(x[2])
    fam.check(not bad, f"{mode}: {len(bad)} pops returned values that were never pushed, "
                       f"e.g. {[b for b in bad if b][:3]}")
    total, pushed = check_items(fam, mode, made, status, popped, graceful=mode == "shutdown")
    fam.ops += pushed + total
    fam.notes["items"] = fam.notes.get("items", 0) + total
    fam.note_max("table", max(table[0], table_len(q)))
    bound = 4 * (INFLIGHT + (n + 1) * max(PUSH_BATCHES)) + 1024
    fam.check(table[0] <= bound, f"{mode}: slot table at {table[0]} (> {bound}) "
                                 f"with at most ~{INFLIGHT} items in flight")
    if mode != "close":
        try:  # nothing may be left to pop once the consumers saw ShutDown
            extra = q.get_nowait() if std else q.pop(timeout=0)
            fam.fail(f"{mode}: an item was still poppable after every consumer got "
                     f"ShutDown: {extra!r}")
            del extra
        except (ShutDown, Empty):
            pass
        fam.check((q.qsize() if std else q.size()) == 0,
                  f"{mode}: items stranded in the queue after the consumers stopped")
        check_slots(fam, mode, q._slots, held=0)
        if std:
            fam.check(q.unfinished_tasks == 0,
                      f"{mode}: unfinished_tasks = {q.unfinished_tasks} after the drain")
            fam.check(_join_within(q, 2.0), f"{mode}: join() did not return")
    return mode, qref, len(wrefs), pushed, total


def stress_queue(fam: Family, budget: float, std: bool = False) -> None:
    # half the budget in long producer/consumer rounds on one queue (the
    # slot table must not grow across them), half in short shutdown races
    nrounds, dur = rounds_of(budget / 2, 1.5)
    q = prim("StdConcurrentQueue")(64) if std else prim("ConcurrentQueue")()
    sizes = []
    for r in range(nrounds):
        stress_queue_round(fam, q, r, dur, std)
        if std and r % 2:
            exact_bound(fam, r, q.maxsize)
        # at a quiet point: nothing held, every index free exactly once
        sizes.append(check_slots(fam, "after round", q._slots, held=0))
        fam.quiet_point()
    fam.notes["table"] = (f"{sizes[0]}->{sizes[-1]}" if len(sizes) > 1 else str(sizes[0])) \
        + (f"(max {max(sizes)})" if max(sizes) > sizes[-1] else "")
    bound = 4 * (INFLIGHT + 2 * fam.ctx.threads * max(PUSH_BATCHES)) + 1024
    fam.check(max(sizes) <= bound, f"slot table grew to {max(sizes)} (> {bound}) with at "
                                   f"most ~{INFLIGHT} items in flight")
    if len(sizes) >= 3:
        fam.check(sizes[-1] <= 2 * sizes[1] + 1024,
                  f"slot table keeps growing across rounds: {sizes}")
    q.close()
    del q
    nrounds, dur = rounds_of(budget / 2, 0.4)
    table = fam.notes.pop("table")
    for r in range(max(3, nrounds)):
        base = live_test_objects()
        freed: list = []
        wrefs: list = []
        got = stress_shutdown_round(fam, r, dur, std, freed, wrefs)
        if got is None:
            continue
        mode, qref, sampled, pushed, popped = got
        gc.collect()
        fam.check(qref() is None, f"{mode}: the queue object was not collected")
        release_check(fam, f"{mode} ({pushed} pushed, {popped} popped): ", base, freed, sampled)
        fam.notes[mode] = fam.notes.get(mode, 0) + 1
        fam.quiet_point()
    fam.notes["shutdown_table"] = fam.notes.pop("table", 0)
    fam.notes["table"] = table


def exact_bound(fam: Family, r: int, maxsize: int) -> None:
    """n threads put_nowait into an empty bounded queue until Full: exactly
    maxsize succeed in total; then get_nowait until Empty: exactly maxsize."""
    q = prim("StdConcurrentQueue")(maxsize)
    n = fam.threads(r)
    for _ in range(5):
        puts = fam.run(n, lambda i: _fill(q), time.monotonic() + 5, aux=True)
        gets = fam.run(n, lambda i: _empty(q), time.monotonic() + 5, aux=True)
        if None in puts or None in gets:
            return
        fam.check(sum(puts) == maxsize, f"{n} threads filled a maxsize={maxsize} queue "
                                        f"with {sum(puts)} items (bound not exact)")
        fam.check(sum(gets) == maxsize, f"{sum(gets)} items came out of a full "
                                        f"maxsize={maxsize} queue")
        fam.ops += sum(puts) + sum(gets)
    q.close()


def _fill(q: Any) -> int:
    k = 0
    try:
        while True:
            q.put_nowait(k)
            k += 1
    except Full:
        return k


def _empty(q: Any) -> int:
    k = 0
    try:
        while True:
            q.get_nowait()
            q.task_done()
            k += 1
    except Empty:
        return k


# -- ConcurrentDict ----------------------------------------------------------

KC = 64        # counter keys: the ints 0..KC-1, never removed in a round
KR = 64        # churn keys: Key(KC + j); values passed through exactly once
KS = 32        # scratch keys: Key(1000 + j), set/delete freely


def stress_dict(fam: Family, budget: float) -> None:
    nrounds, dur = rounds_of(budget * 2 / 3, 1.5)
    for r in range(nrounds):
        base = live_test_objects()
        freed: list = []
        refs: list = []
        sampled = dict_round(fam, r, dur, freed, refs)
        if sampled is None:
            continue
        release_check(fam, "", base, freed, sampled)
        fam.quiet_point()
    nrounds, dur = rounds_of(budget / 3, 0.75)
    for r in range(nrounds):
        base = live_test_objects()
        dref = clear_round(fam, r, dur)
        if dref is None:
            continue
        gc.collect()
        fam.check(dref() is None, "the dict was not collected")
        live = live_test_objects() - base
        fam.check(live == 0, f"{live} keys/values still alive after the dict was dropped")
        fam.quiet_point()


def dict_round(fam: Family, r: int, dur: float, freed: list, refs: list) -> int | None:
    """Writers: per-key counters (CAS loops, reduce), churn values passed
    in and out exactly once (insert-if-absent, setdefault, CAS replace,
    pop, CAS remove), scratch keys (set, del, update); readers: len,
    iteration, items. Then a popitem drain from every thread. Returns how
    many values were weakref-sampled (into refs; callbacks append to freed),
    None if a thread failed."""
    ConcurrentDict, ABSENT = prim("ConcurrentDict"), ftkit.ABSENT
    n = fam.threads(r)
    nreaders = max(1, n // 4)
    d = ConcurrentDict()
    for k in range(KC):
        d[k] = 0
    deadline = time.monotonic() + dur
    add = operator.add
    lo, hi = KC - n, KC + KR + KS + n  # len() may be off by what is in flight

    def writer(i: int) -> tuple:
        rnd = random.Random(fam.ctx.seed * 29 + r * 401 + i)
        incs = [0] * KC
        ins = array("q")
        outs = array("q")
        mine = []
        s = 0
        ops = 0
        bad = 0
        k: Any = None
        v: Any = None
        t: Any = None
        cur: Any = None
        got: Any = None

        def tok() -> Token:
            nonlocal s
            t = Token(i, s)
            s += 1
            if s & 7 == 0:
                mine.append(weakref.ref(t, freed.append))
            return t

        while time.monotonic() < deadline:
            for _ in range(16):
                ops += 1
                op = rnd.randrange(12)
                if op == 0:  # counter: CAS loop
                    k = rnd.randrange(KC)
                    while True:
                        v = d[k]
                        if d.compare_and_set(k, v, v + 1):
                            break
                    incs[k] += 1
                elif op == 1:  # counters: reduce
                    ks = [rnd.randrange(KC) for _ in range(rnd.choice((1, 5, 70)))]
                    d.reduce([(k, 1) for k in ks], add)
                    for k in ks:
                        incs[k] += 1
                elif op == 2:  # churn: insert only if absent
                    t = tok()
                    if d.compare_and_set(Key(KC + rnd.randrange(KR)), ABSENT, t):
                        ins.append(t.p << 32 | t.s)
                elif op == 3:  # churn: setdefault inserts or returns the present
                    t = tok()
                    got = d.setdefault(Key(KC + rnd.randrange(KR)), t)
                    if got is t:
                        ins.append(t.p << 32 | t.s)
                    elif type(got) is not Token:
                        bad += 1
                elif op == 4:  # churn: replace by identity
                    k = Key(KC + rnd.randrange(KR))
                    cur = d.get(k)
                    if cur is not None:
                        t = tok()
                        if d.compare_and_set(k, cur, t):
                            ins.append(t.p << 32 | t.s)
                            outs.append(cur.p << 32 | cur.s)
                elif op == 5:  # churn: pop
                    v = d.pop(Key(KC + rnd.randrange(KR)), None)
                    if v is not None:
                        if type(v) is Token:
                            outs.append(v.p << 32 | v.s)
                        else:
                            bad += 1
                elif op == 6:  # churn: remove by identity
                    k = Key(KC + rnd.randrange(KR))
                    cur = d.get(k)
                    if cur is not None and d.compare_and_set(k, cur, ABSENT):
                        outs.append(cur.p << 32 | cur.s)
                elif op == 7:  # scratch: plain set / del / get
                    k = Key(1000 + rnd.randrange(KS))
                    c = rnd.randrange(3)
                    if c == 0:
                        d[k] = tok()
                    elif c == 1:
                        try:
                            del d[k]
                        except KeyError:
                            pass
                    else:
                        v = d.get(k)
                        if v is not None and type(v) is not Token:
                            bad += 1
                elif op == 8:  # counter reads
                    k = rnd.randrange(KC)
                    v = d[k]
                    if type(v) is not int or k not in d:
                        bad += 1
                elif op == 9:
                    d.update([(Key(1000 + rnd.randrange(KS)), tok()) for _ in range(3)])
                else:
                    v = d.get(Key(KC + rnd.randrange(KR)))
                    if v is not None and type(v) is not Token:
                        bad += 1
                k = v = cur = t = got = None
        return incs, ins, outs, mine, ops, bad

    def reader(i: int) -> int:
        ops = 0
        last = [0] * KC
        problems = 0
        ks: Any = None
        others: Any = None
        k: Any = None
        v: Any = None
        while time.monotonic() < deadline:
            ops += 1
            size = len(d)
            if not lo <= size <= hi:
                fam.fail(f"len(d) = {size} outside [{lo}, {hi}]")
            ks = list(d) if ops % 2 else d.keys()
            seen = Counter(k for k in ks if type(k) is int)
            others = [k for k in ks if type(k) is not int]
            if len(seen) != KC or any(c != 1 for c in seen.values()) \
                    or any(not 0 <= k < KC for k in seen):
                problems += 1
                if problems < 3:
                    fam.fail(f"iteration: counter keys seen {sum(seen.values())} times "
                             f"({len(seen)} distinct), expected each of {KC} once")
            if any(type(k) is not Key or not KC <= k.k < 1000 + KS for k in others):
                fam.fail(f"iteration yielded keys never inserted: {others[:3]}")
            for k, v in d.items():
                if type(k) is int:
                    if type(v) is not int or v < last[k]:
                        fam.fail(f"counter {k} read {v!r} after {last[k]} "
                                 "(went back or not an int)")
                    else:
                        last[k] = v
                elif type(v) is not Token:
                    fam.fail(f"value {v!r} under {k!r} was never stored")
            ks = others = k = v = None
        return ops

    def worker(i: int) -> Any:
        return reader(i) if i < nreaders else writer(i)

    results = fam.run(n, worker, deadline)
    if any(x is None for x in results):
        return None
    ws = results[nreaders:]
    for x in ws:
        refs.extend(x[3])
    fam.ops += sum(x[4] for x in ws) + sum(results[:nreaders])
    bad = sum(x[5] for x in ws)
    fam.check(not bad, f"{bad} reads returned values never stored (or a counter key missing)")
    for k in range(KC):
        want = sum(x[0][k] for x in ws)
        if not fam.check(d[k] == want, f"counter {k} = {d[k]}, expected {want} "
                                       "(increments lost or doubled)"):
            break
    # every churn value put in was taken out exactly once or is still inside
    ins, outs = array("q"), array("q")
    for k in range(KC, KC + KR):
        v = d.get(Key(k))
        if v is not None:
            outs.append(v.p << 32 | v.s)
    v = None
    for x in ws:
        ins.extend(x[1])
        outs.extend(x[2])
    same_multiset(fam, "churn values (taken out or still inside)", ins, outs)
    # drain with popitem from every thread: each entry exactly once
    before = len(d)
    popped = fam.run(n, lambda i: [repr(k) for k, _ in _popitems(d)],
                     time.monotonic() + 5, aux=True)
    if None not in popped:
        keys = [k for x in popped for k in x]
        fam.check(len(keys) == before and len(d) == 0,
                  f"popitem from {n} threads took {len(keys)} entries of {before}, "
                  f"{len(d)} left")
        fam.check(len(set(keys)) == len(keys), "popitem returned a key twice")
    fam.note_max("table", table_len(d))
    bound = 4 * (2 * (KC + KR + KS) + 8 * n) + 64
    fam.check(table_len(d) <= bound, f"slot table grew to {table_len(d)} (> {bound}) "
                                     f"for at most {KC + KR + KS} entries")
    check_slots(fam, "dict after popitem", d._slots, held=0)
    return sum(len(x[3]) for x in ws)


def _popitems(d: Any) -> list:
    out = []
    try:
        while True:
            out.append(d.popitem())
    except KeyError:
        return out


def clear_round(fam: Family, r: int, dur: float) -> Any:
    """Inserters (set/setdefault/update over a bounded key window each) and
    readers race with one thread calling clear() in a loop: every clear()
    must return within CLEAR_LIMIT while the inserters keep going."""
    n = fam.threads(r)
    d = prim("ConcurrentDict")()
    dref = weakref.ref(d)
    deadline = time.monotonic() + dur
    stop = threading.Event()          # inserters run until told (not until the deadline)
    cleared = threading.Event()
    times: list = []
    window = 2048

    def clearer() -> int:
        k = 0
        try:
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                d.clear()
                times.append(time.monotonic() - t0)
                k += 1
                time.sleep(0.002)
        finally:
            cleared.set()
        return k

    def inserter(i: int) -> int:
        rnd = random.Random(fam.ctx.seed * 37 + r * 53 + i)
        keys = [Key(10000 * (i + 1) + j) for j in range(window)]
        vals = [Token(i, j) for j in range(window)]
        ops = 0
        j = 0
        while not stop.is_set():
            c = rnd.randrange(4)
            if c == 0:
                d.update([(keys[(j + t) % window], vals[(j + t) % window]) for t in range(8)])
                j += 8
            elif c == 1:
                d.setdefault(keys[j % window], vals[j % window])
                j += 1
            else:
                d[keys[j % window]] = vals[j % window]
                j += 1
            ops += 1
        return ops

    def reader() -> int:
        ops = 0
        while not stop.is_set():
            len(d)
            for _ in d:
                pass
            ops += 1
        return ops

    def worker(i: int) -> Any:
        if i == 0:
            return clearer()
        if i == 1:
            return reader()
        return inserter(i)

    box: list = [None]
    runner = threading.Thread(target=lambda: box.__setitem__(
        0, fam.run(n, worker, deadline + CLEAR_LIMIT + 1, stop)), daemon=True)
    runner.start()
    time.sleep(max(0.0, deadline - time.monotonic()))
    if not cleared.wait(CLEAR_LIMIT):
        fam.fail(f"clear() did not return within {CLEAR_LIMIT:.0f} s while "
                 f"{n - 2} threads inserted (livelock); {len(d)} entries")
    stop.set()
    runner.join(CLEAR_LIMIT + 2 * GRACE + 5)
    if runner.is_alive():
        raise Hang(f"{fam.name}: clear round does not stop")
    results = box[0]
    if results is None or any(x is None for x in results):
        return None
    fam.ops += sum(results)
    if times:
        fam.note_max("clear_ms", round(1000 * max(times), 1))
        fam.check(max(times) <= CLEAR_LIMIT, f"one clear() took {max(times):.1f} s while "
                                             f"{n - 2} threads inserted")
    d.clear()
    fam.check(len(d) == 0, f"len(d) = {len(d)} after clear() with no writer running")
    check_slots(fam, "dict after clear", d._slots, held=0)
    bound = 4 * (2 * window * n + 8 * n) + 64
    fam.note_max("table_clear", table_len(d))
    fam.check(table_len(d) <= bound, f"slot table grew to {table_len(d)} (> {bound})")
    return dref


# -- newer primitives (picked up when they exist) -----------------------------

def stress_deque(fam: Family, budget: float) -> None:
    nrounds = max(4, round(budget))  # the four kinds of round, ~1 s each
    dur = budget / nrounds
    for r in range(nrounds):
        base = live_test_objects()
        freed: list = []
        refs: list = []
        sampled = deque_round(fam, r, dur, freed, refs)
        if sampled is None:
            continue
        release_check(fam, "", base, freed, sampled)
        fam.quiet_point()


def deque_round(fam: Family, r: int, dur: float, freed: list, refs: list) -> int | None:
    """Both ends from every thread: append, appendleft, extend, extendleft,
    pop, popleft, pop_many/popleft_many, pop with a timeout, rotate and
    snapshots. Rounds cycle: unbounded; maxlen (appends evict); unbounded;
    maxlen with close() racing the others. Every item comes out at most
    once and none from nowhere; unbounded rounds lose none; len() never
    exceeds maxlen; everything is released once the deque is dropped.
    Returns how many items were weakref-sampled (None if a thread failed)."""
    n = fam.threads(r)
    kind = r % 4
    maxlen = None if kind % 2 == 0 else (16, 256)[r // 4 % 2]
    dq = prim("ConcurrentDeque")(maxlen=maxlen)
    many = hasattr(dq, "pop_many") and hasattr(dq, "popleft_many")
    t0 = time.monotonic()
    deadline = t0 + dur
    close_at = t0 + dur * 0.6 if kind == 3 else None
    ins = 7 if maxlen else 4  # in 10 ops: bounded rounds keep the deque full

    def worker(i: int) -> tuple:
        rnd = random.Random(fam.ctx.seed * 41 + r * 3 + i)
        out = array("q")
        mine: list = []
        bad = over = ops = s = 0
        got: Any = None

        def items(m: int) -> list:
            nonlocal s
            new = [Token(i, s + j) for j in range(m)]
            mine.extend(weakref.ref(t, freed.append) for t in new if t.s & 7 == 0)
            s += m
            return new

        try:
            while time.monotonic() < deadline:
                if i == 0 and close_at is not None and time.monotonic() >= close_at:
                    dq.close()
                    break
                for _ in range(16):
                    ops += 1
                    k = rnd.randrange(10)
                    got = []
                    if k < ins:
                        c = rnd.randrange(4)
                        if c == 0:
                            dq.append(items(1)[0])
                        elif c == 1:
                            dq.appendleft(items(1)[0])
                        elif c == 2:
                            dq.extend(items(2))
                        else:
                            dq.extendleft(items(3))
                        if maxlen is not None and len(dq) > maxlen:
                            over += 1
                        continue
                    c = rnd.randrange(6)
                    try:
                        if c == 0:
                            got = [dq.pop()]
                        elif c == 1:
                            got = [dq.popleft()]
                        elif c == 2:
                            got = [dq.popleft(timeout=0.001)]
                        elif c == 3 and many:
                            got = dq.pop_many(rnd.choice((1, 3, 16)))
                        elif c == 4 and many:
                            got = dq.popleft_many(rnd.choice((1, 3, 16)))
                        elif rnd.random() < 0.5:
                            dq.rotate(rnd.randint(-3, 3))
                        else:  # a snapshot holds only items
                            bad += sum(1 for v in list(dq) if type(v) is not Token)
                    except IndexError:
                        pass
                    for v in got:
                        if type(v) is Token:
                            out.append(v.p << SHIFT | v.s)
                        else:
                            bad += 1
                    got = v = None
        except BadHandleError:  # closed by thread 0
            if close_at is None:
                raise
        return out, bad, s, mine, ops, over

    results = fam.run(n, worker, deadline)
    if any(x is None for x in results):
        return None
    for x in results:
        refs.extend(x[3])
    popped = [x[0] for x in results]
    if close_at is None:  # drain what is left
        rest = array("q")
        while True:
            try:
                v = dq.popleft()
            except IndexError:
                break
            rest.append(v.p << SHIFT | v.s if type(v) is Token else -1)
        v = None
        popped.append(rest)
        check_slots(fam, "deque after the drain", getattr(dq, "_slots", None), held=0)
        fam.note_max("table", table_len(dq))
    made = [x[2] for x in results]
    seen = [bytearray(m) for m in made]
    dup = fab = 0
    for out in popped:
        for v in out:
            p, s = v >> SHIFT, v & MASK
            if v < 0 or not 0 <= p < n or s >= made[p]:
                fab += 1
            elif seen[p][s]:
                dup += 1
            else:
                seen[p][s] = 1
    lost = sum(b.count(0) for b in seen) if maxlen is None and close_at is None else 0
    what = ("unbounded", f"maxlen={maxlen}", "unbounded", f"maxlen={maxlen} + close()")[kind]
    bad = sum(x[1] for x in results)
    fam.check(not bad, f"{what}: {bad} pops or snapshots returned values never appended")
    fam.check(not (dup or fab or lost), f"{what}: {dup} items popped twice, {fab} never "
                                        f"appended, {lost} lost")
    over = sum(x[5] for x in results)
    fam.check(not over, f"{what}: len() above maxlen {over} times")
    fam.ops += sum(x[4] for x in results)
    return len(refs)


def stress_rwlock(fam: Family, budget: float) -> None:
    """Readers share, writers exclude everyone; a plain counter written under
    the write lock loses no update."""
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        lk = prim("RWLock")()
        state = [0, 0, 0]   # readers inside, writers inside, counter
        guard = threading.Lock()
        deadline = time.monotonic() + dur

        def worker(i: int) -> tuple[int, int]:
            rnd = random.Random(fam.ctx.seed * 43 + r * 5 + i)
            writes = ops = 0
            while time.monotonic() < deadline:
                ops += 1
                if rnd.random() < 0.3:
                    lk.lock_write()
                    try:
                        with guard:
                            state[1] += 1
                            ok = state[1] == 1 and state[0] == 0
                        if not ok:
                            fam.fail(f"writer inside with {state[0]} readers and "
                                     f"{state[1] - 1} other writers")
                        v = state[2]
                        if rnd.random() < 0.1:
                            time.sleep(0)
                        state[2] = v + 1
                        writes += 1
                        with guard:
                            state[1] -= 1
                    finally:
                        lk.unlock_write()
                else:
                    lk.lock_read()
                    try:
                        with guard:
                            state[0] += 1
                            ok = state[1] == 0
                        if not ok:
                            fam.fail("reader inside while a writer is inside")
                        with guard:
                            state[0] -= 1
                    finally:
                        lk.unlock_read()
            return writes, ops

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            continue
        w = sum(x[0] for x in results)
        fam.check(state[2] == w, f"counter {state[2]} after {w} writes under the write lock")
        fam.ops += sum(x[1] for x in results)
        fam.quiet_point()


def stress_interval_lock(fam: Family, budget: float) -> None:
    """lock/unlock with poll()/cede() inside: mutual exclusion, no lost update."""
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        lk = prim("IntervalLock")()
        box = [0, -1]
        deadline = time.monotonic() + dur

        def worker(i: int) -> int:
            rnd = random.Random(fam.ctx.seed * 47 + r * 11 + i)
            got = 0
            while time.monotonic() < deadline:
                lk.lock()
                try:
                    for _ in range(rnd.choice((1, 3))):
                        if box[1] != -1:
                            fam.fail(f"thread {i} inside with thread {box[1]}")
                        box[1] = i
                        v = box[0]
                        if rnd.random() < 0.05:
                            time.sleep(0)  # a holder that gets descheduled
                        box[0] = v + 1
                        got += 1
                        box[1] = -1
                        k = rnd.randrange(4)
                        if k == 0:
                            lk.poll()
                        elif k == 1:
                            lk.cede()
                finally:
                    lk.unlock()
            return got

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            continue
        fam.check(box[0] == sum(results), f"counter {box[0]} after {sum(results)} "
                                          "increments under the lock")
        fam.ops += sum(results)
        fam.quiet_point()


def stress_counter(fam: Family, budget: float) -> None:
    """incr/decr/add from every thread: exact sum at the end; while only
    increments run, each reader's get() never goes back."""
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        c = prim("AtomicCounter")()
        deadline = time.monotonic() + dur
        mixed = r % 2 == 1

        def worker(i: int) -> tuple[int, int]:
            rnd = random.Random(fam.ctx.seed * 53 + r * 13 + i)
            net = ops = 0
            last = 0
            while time.monotonic() < deadline:
                for _ in range(32):
                    ops += 1
                    k = rnd.randrange(4 if mixed else 3)
                    if k == 0:
                        c.incr()
                        net += 1
                    elif k == 1:
                        d = rnd.randint(0, 100)
                        c.add(d)
                        net += d
                    elif k == 2:
                        v = c.get()
                        if not mixed and v < last:
                            fam.fail(f"get() went back from {last} to {v} while only "
                                     "increments ran")
                        last = v
                    else:
                        c.decr()
                        net -= 1
            return net, ops

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            continue
        want = sum(x[0] for x in results)
        fam.check(c.get() == want and int(c) == want,
                  f"counter {c.get()} != {want} (sum of every thread's changes)")
        fam.ops += sum(x[1] for x in results)
        fam.quiet_point()


# -- gathering iterator ------------------------------------------------------

def stress_gather(fam: Family, budget: float) -> None:
    """n-1 producers insert disjoint keys in scrambled order, one consumer
    iterates: every key's value comes out once, in key order. Odd rounds
    add a twist chosen by the round: a clear=False pass read twice, a
    duplicate insert (the iterator must raise RuntimeError chained to the
    producer's ValueError after a correct prefix), or a close racing the
    producers and the consumer (the consumer stops with ShutDown or
    RuntimeError, producers with BadHandleError; nothing hangs or leaks)."""
    Gather = prim("ConcurrentGatheringIterator")
    dur = 1.0
    end = time.monotonic() + budget
    r = -1
    while r < 3 or time.monotonic() < end:  # rounds are short: as many as fit
        r += 1
        n = max(2, fam.threads(r))
        producers = n - 1
        per = 400 if r % 2 == 0 else 200
        total = producers * per
        twist = ("plain", "noclear", "duplicate", "close")[r % 4] if r % 2 else "plain"
        g = Gather(scaling=n)
        deadline = time.monotonic() + dur * 4
        dup_at = random.Random(fam.ctx.seed + r).randrange(total)
        closed = threading.Event()

        def worker(i: int) -> Any:
            rnd = random.Random(fam.ctx.seed * 31 + r * 7 + i)
            if i == producers:  # the consumer
                got: list = []
                try:
                    for v in g.iterator(total - 1, clear=(twist != "noclear"), timeout=GRACE):
                        got.append(v)
                        if twist == "close" and len(got) == total // 3:
                            closed.set()
                            g.close()
                except ShutDown:
                    return ("shut", got)
                except RuntimeError as exc:
                    return ("failed", got, exc.__cause__)
                except BadHandleError:
                    return ("closed", got)
                return ("done", got)
            keys = list(range(i, total, producers))
            # scrambled, but each producer ends up inserting all its keys
            for j in range(0, len(keys), 16):
                chunk = keys[j:j + 16]
                rnd.shuffle(chunk)
                keys[j:j + 16] = chunk
            done = 0
            for k in keys:
                if time.monotonic() > deadline:
                    break
                try:
                    g.insert(k, (k, i))
                except (BadHandleError, ValueError):
                    if twist == "close" and closed.is_set():
                        break
                    raise
                done += 1
                if twist == "duplicate" and k == dup_at:
                    try:
                        g.insert(k, (k, -1))
                    except ValueError:
                        return ("dup", done)
                    fam.fail(f"a duplicate insert of key {k} did not raise ValueError")
            return ("ins", done)

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            g.close()
            continue
        cons = results[producers]
        got = cons[1]
        want = [(k, k % producers) for k in range(total)]
        fam.check(got == want[:len(got)], "the iterator yielded values out of key order "
                                          "or values never inserted")
        if twist in ("plain", "noclear"):
            fam.check(cons[0] == "done" and len(got) == total,
                      f"iterator ended with {cons[0]} after {len(got)} of {total}")
        if twist == "noclear" and cons[0] == "done":
            again = list(g.iterator(total - 1, clear=True))
            fam.check(again == want, "a second pass over clear=False values differs")
        if twist == "duplicate":
            fam.check(cons[0] == "failed" and isinstance(cons[2], ValueError),
                      f"after a duplicate insert the iterator ended with {cons[0]} "
                      "(want RuntimeError chained to ValueError)")
        if twist == "close":
            fam.check(cons[0] in ("shut", "failed", "closed", "done"),
                      f"close racing: the iterator ended with {cons[0]}")
        fam.ops += sum(x[1] for x in results[:producers] if x[0] in ("ins", "dup")) + len(got)
        g.close()
        fam.quiet_point()


# -- batch executor --------------------------------------------------------------

def stress_batch(fam: Family, budget: float) -> None:
    """n threads load() through their own prefetching views of one executor
    whose source counts 0, 1, 2...: source() never runs in two threads at
    once, each thread's loads strictly increase (production order), and
    every produced value was loaded exactly once, counting the ones the
    views gave back when their threads ended (``available()`` of them). Odd rounds end with a twist:
    source() raising (every later load raises RuntimeError chained to it)
    or a close racing the loads (nothing loaded twice)."""
    Batch = prim("BatchExecutor")
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        size = (1, 3, 16, 64, 257)[r % 5]
        twist = ("plain", "raise", "close")[r % 3] if r % 2 else "plain"
        produced = [0]
        inside = [0]
        overlap = [0]
        fail_at = 200 * size + 7

        def source() -> int:
            inside[0] += 1
            if inside[0] != 1:
                overlap[0] += 1
            v = produced[0]
            if twist == "raise" and v == fail_at:
                inside[0] -= 1
                raise KeyError("planned")
            produced[0] = v + 1
            inside[0] -= 1
            return v

        ex = Batch(source, size)
        deadline = time.monotonic() + dur
        # A view gives the values it prefetched back when its thread ends,
        # and they are older than what the others loaded since: the views
        # live until every worker is done, so each thread's order stays strict.
        ended = threading.Barrier(n)

        def worker(i: int) -> Any:
            load = ex.local().load
            got = array("q")
            end = "time"
            while time.monotonic() < deadline:
                try:
                    for _ in range(64):
                        got.append(load())
                except KeyError:
                    end = "source"
                    break
                except RuntimeError as exc:
                    end = "failed" if isinstance(exc.__cause__, KeyError) else f"bad: {exc!r}"
                    break
                except BadHandleError:
                    end = "closed"
                    break
                if twist == "close" and i == 0 and len(got) > 2000:
                    ex.close()
            try:
                ended.wait(max(0.0, deadline + 5.0 - time.monotonic()))
            except threading.BrokenBarrierError:
                pass
            return got, end

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            ex.close()
            continue
        fam.check(overlap[0] == 0, f"source() ran in two threads at once {overlap[0]} times")
        for got, end in results:
            fam.check(all(a < b for a, b in zip(got, got[1:])),
                      "one thread's loads went back (not in production order)")
            fam.check(not end.startswith("bad"), f"a load ended with {end}")
        loaded = sorted(v for got, _ in results for v in got)
        fam.check(len(loaded) == len(set(loaded)), "a value was loaded twice")
        if twist == "plain":
            # what the views held went back when their threads ended
            left = ex.available()
            rest = [ex.load() for _ in range(left)]
            fam.check(sorted(loaded + rest) == list(range(produced[0])),
                      f"loaded {len(loaded)} values, produced {produced[0]}, "
                      f"{left} available: some value lost or loaded twice")
        if twist == "raise":
            ends = {end for _, end in results}
            fam.check(ends <= {"source", "failed", "time"} and "source" in ends,
                      f"after source() raised the loads ended with {sorted(ends)}")
            try:
                ex.load()
                fam.fail("load() after source() raised returned a value")
            except RuntimeError as exc:
                fam.check(isinstance(exc.__cause__, KeyError), "RuntimeError not chained")
        fam.ops += len(loaded)
        ex.close()
        fam.quiet_point()


# -- process semaphore -------------------------------------------------------------

def stress_semaphore(fam: Family, budget: float) -> None:
    """Every thread runs its own event loop with tasks that take the shared
    semaphore (``async with``), some of them cancelled at random while they
    wait or right after they were granted, plus plain threads using
    acquire_blocking: the holders never exceed the permits, every task ends,
    and afterwards the permits are all back and nobody waits."""
    import asyncio

    Sem = prim("ProcessSemaphore")
    nrounds, dur = rounds_of(budget, 1.0)
    for r in range(nrounds):
        n = fam.threads(r)
        permits = 1 + r % 4
        sem = Sem(permits)
        holders = ftkit.AtomicInt64()
        worst = ftkit.AtomicInt64()
        deadline = time.monotonic() + dur

        def enter() -> None:
            now = holders.incr()
            if now > permits:
                worst.set(now)

        async def task(rnd: random.Random) -> int:
            done = 0
            while time.monotonic() < deadline:
                async with sem:
                    enter()
                    await asyncio.sleep(0)
                    holders.decr()
                done += 1
            return done

        async def canceller(rnd: random.Random, victims: list) -> int:
            k = 0
            while time.monotonic() < deadline:
                await asyncio.sleep(rnd.random() / 500)
                t = asyncio.ensure_future(task(rnd))
                victims.append(t)
                await asyncio.sleep(0)
                t.cancel()
                k += 1
            return k

        async def loop_main(i: int) -> int:
            rnd = random.Random(fam.ctx.seed * 17 + r * 5 + i)
            victims: list = []
            jobs = [task(rnd) for _ in range(4)] + [canceller(rnd, victims)]
            res = await asyncio.gather(*jobs)
            for t in victims:
                try:
                    await t
                except asyncio.CancelledError:
                    pass
            return sum(res)

        def worker(i: int) -> int:
            if i % 4 == 3:  # a plain thread
                k = 0
                while time.monotonic() < deadline:
                    if sem.acquire_blocking(timeout=0.05):
                        enter()
                        holders.decr()
                        sem.release()
                        k += 1
                return k
            return asyncio.run(loop_main(i))

        results = fam.run(n, worker, deadline)
        if any(x is None for x in results):
            sem.close()
            continue
        fam.check(worst.get() == 0, f"{worst.get()} holders of a {permits}-permit semaphore")
        fam.check(holders.get() == 0, f"{holders.get()} holders left after the round")
        fam.check(sem.value() == permits and sem.waiters() == 0,
                  f"after the round: value {sem.value()} of {permits}, "
                  f"{sem.waiters()} waiters (a permit lost or leaked)")
        fam.ops += sum(results)
        sem.close()
        fam.quiet_point()


FAMILIES: list[tuple[str, Callable[[Family, float], None]]] = [
    ("AtomicInt64", stress_int64),
    ("AtomicFlag", stress_flag),
    ("AtomicReference", stress_ref),
    ("ConcurrentQueue", lambda f, b: stress_queue(f, b, std=False)),
    ("StdConcurrentQueue", lambda f, b: stress_queue(f, b, std=True)),
    ("ConcurrentDict", stress_dict),
    ("ConcurrentDeque", stress_deque),
    ("RWLock", stress_rwlock),
    ("IntervalLock", stress_interval_lock),
    ("AtomicCounter", stress_counter),
    ("ConcurrentGatheringIterator", stress_gather),
    ("BatchExecutor", stress_batch),
    ("ProcessSemaphore", stress_semaphore),
]


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="total budget, split evenly between the families (default 60)")
    ap.add_argument("--threads", type=int, default=16,
                    help="threads per round; rounds alternate N/2 and N (default 16)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only this family (repeatable, or comma-separated)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    ap.add_argument("--list", action="store_true", help="list the families found and exit")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or not 2 <= args.threads <= 62:
        ap.error("--seconds must be > 0 and --threads in 2..62")
    present = [(name, fn) for name, fn in FAMILIES if hasattr(ftkit, name)]
    if args.list:
        print("\n".join(name for name, _ in present))
        return 0
    if args.only:
        want = {w.strip().lower() for o in args.only for w in o.split(",") if w.strip()}
        known = {name.lower() for name, _ in FAMILIES}
        unknown = want - known
        if unknown:
            ap.error(f"unknown family {sorted(unknown)}; known: "
                     f"{', '.join(name for name, _ in FAMILIES)}")
        missing = sorted(want - {name.lower() for name, _ in present})
        if missing:
            print(f"not in this ftkit (skipped): {', '.join(missing)}")
        present = [(name, fn) for name, fn in present if name.lower() in want]
        if not present:
            return 0
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    ctx = Ctx(args.seconds, args.threads, seed)
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"stress: ftkit {ftkit.__version__} on Python {sys.version.split()[0]} "
          f"(GIL {'enabled' if gil else 'disabled'}), {len(present)} families, "
          f"{args.seconds:g} s, {max(2, args.threads // 2)}-{args.threads} threads, "
          f"seed {seed}", flush=True)
    budget = args.seconds / len(present)
    failed = 0
    hung = False
    rss0 = rss_mb()
    for name, fn in present:
        fam = Family(name, ctx)
        gc.collect()
        handles0 = ftkit.lib.ftk_live_handles()
        t0 = time.monotonic()
        try:
            fn(fam, budget)
        except Hang as exc:
            fam.fail(str(exc))
            hung = True
        except Exception:  # noqa: BLE001 - a check that raised is a failure too
            fam.fail(f"the family's own code raised:\n{traceback.format_exc().rstrip()}")
        wall = time.monotonic() - t0
        if not hung:
            gc.collect()
            handles = ftkit.lib.ftk_live_handles()
            fam.check(handles == handles0, f"C handles: {handles0} before, {handles} after "
                                           "(objects leaked)")
        if len(fam.rss) >= 4:
            # RSS keeps its high-water mark (allocators retain memory after
            # threads come and go): only growth that goes on through the
            # second half of the rounds counts as a leak
            a, m, z = fam.rss[1], fam.rss[len(fam.rss) // 2], fam.rss[-1]
            fam.notes["rss_mb"] = f"{a:.0f}->{m:.0f}->{z:.0f}"
            fam.check(not (z - m > 64 and z - m > (m - a) / 2),
                      f"RSS keeps growing across rounds: {a:.0f} -> {m:.0f} -> {z:.0f} MB")
            # Python's allocated blocks at quiet points: a leak of Python
            # objects shows here whatever the allocator keeps in RSS
            a, m, z = fam.blocks[1], fam.blocks[len(fam.blocks) // 2], fam.blocks[-1]
            if a >= 0:
                fam.notes["kblocks"] = f"{a // 1000}->{m // 1000}->{z // 1000}"
                fam.check(not (z - a > 200_000 and z > 2 * a),
                          f"Python objects accumulate across rounds: {a} -> {m} -> {z} "
                          "allocated blocks")
            fam.notes["ebr_pending"] = max(fam.pending)
        rate = fam.ops / fam.busy if fam.busy > 0 else 0.0
        notes = " ".join(f"{k}={v}" for k, v in fam.notes.items())
        verdict = "ok" if not fam.nerrors else f"FAIL ({fam.nerrors} violations)"
        print(f"{name:<19} ops={_fmt(fam.ops):>11}  ops/s={_fmt(rate):>10}  "
              f"rounds={fam.rounds:<3} {wall:5.1f} s  {verdict}  {notes}", flush=True)
        for msg in fam.errors:
            print("    " + msg.replace("\n", "\n    "), flush=True)
        if fam.nerrors > len(fam.errors):
            print(f"    ... and {fam.nerrors - len(fam.errors)} more", flush=True)
        failed += fam.nerrors > 0
        if hung:
            break
    print(f"stress: {len(present) - failed} of {len(present)} families ok; RSS "
          f"{rss0:.0f} -> {rss_mb():.0f} MB", flush=True)
    if hung:
        sys.stdout.flush()
        os._exit(3)  # stuck threads would keep the process alive
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
