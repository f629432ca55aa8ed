"""ConcurrentQueue and StdConcurrentQueue against API.md and queue.Queue."""
from __future__ import annotations

import gc
import pickle
import queue
import random
import threading
import time
import weakref

import pytest

from ftkit import BadHandleError, ConcurrentQueue, Empty, Full, LocalWrapper, ShutDown
from ftkit import StdConcurrentQueue

from conftest import collect_if_pypy


class Item:
    __slots__ = ("v", "__weakref__")

    def __init__(self, v):
        self.v = v


# -- ConcurrentQueue: single thread --------------------------------------------

def test_fifo_and_sizes():
    q = ConcurrentQueue()
    assert q.empty() and q.size() == 0 and len(q) == 0
    for i in range(1000):
        q.push(i)
    assert q.size() == 1000 and len(q) == 1000 and not q.empty()
    assert [q.pop() for _ in range(1000)] == list(range(1000))
    assert q.empty()


def test_push_many_pop_many():
    q = ConcurrentQueue()
    q.push_many(range(10))
    q.push_many([])
    q.push_many(iter([10, 11]))
    assert q.pop_many(5) == [0, 1, 2, 3, 4]
    assert q.pop_many(100) == [5, 6, 7, 8, 9, 10, 11]
    assert q.pop_many(0) == []
    with pytest.raises(Empty):
        q.pop_many(3, timeout=0.01)
    with pytest.raises(ValueError):
        q.pop_many(-1)
    with pytest.raises(TypeError):
        q.pop_many("3")


def test_pop_many_across_runs_and_limits():
    # Single pushes and batches interleave, so one pop_many meets many runs
    # of slots (and single slots); the order and every object must survive.
    q = ConcurrentQueue()
    expected = []
    for i in range(300):
        if i % 3:
            q.push(i)
            expected.append(i)
        else:
            batch = [(i, j) for j in range(i % 7 + 1)]
            q.push_many(batch)
            expected += batch
    assert q.pop_many(2) == expected[:2]
    assert q.pop_many(5000) == expected[2:]  # more than one C chunk (1024)
    big = list(range(3000))
    q.push_many(big)
    assert q.pop_many(3000) == big
    with pytest.raises(TypeError):
        q.pop_many(True)
    q.push_many([1, 2])
    assert q.pop_many(max_items=10, timeout=None) == [1, 2]


def test_batches_popped_in_slices_do_not_grow_the_table():
    # Batches take runs of consecutive slots; popped in short slices they come
    # back as single slots. The table must reuse those (scattered batches)
    # instead of growing: it once grew to 280,000 slots for 64 items in flight.
    q = ConcurrentQueue()
    batch = list(range(64))
    for _ in range(2000):
        q.push_many(batch)
        out = []
        while len(out) < 64:
            out += q.pop_many(5)
        assert out == batch
    for i in range(5000):
        q.push_many([i])
        assert q.pop_many(1) == [i]
    assert len(q._slots.objs) <= 512
    assert q._slots.live() == 0


def test_pop_timeout_waits_at_least_timeout():
    q = ConcurrentQueue()
    for timeout in (0, 0.05, 0.2):
        t0 = time.monotonic()
        with pytest.raises(Empty):
            q.pop(timeout=timeout)
        assert time.monotonic() - t0 >= timeout
    with pytest.raises(ValueError):
        q.pop(timeout=-1)
    with pytest.raises(TypeError):
        q.pop(timeout="1")


def test_blocked_pop_wakes_on_push():
    q = ConcurrentQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.pop(timeout=10)))
    t.start()
    time.sleep(0.1)
    q.push("x")
    t.join(5)
    assert got == ["x"]


def test_pop_local_returns_local_wrapper():
    q = ConcurrentQueue()
    q.push([1, 2])
    w = q.pop_local()
    assert isinstance(w, LocalWrapper) and w.wrapped == [1, 2] and len(w) == 2


def test_constructor_arguments():
    ConcurrentQueue(scaling=16, lock_free=True)
    ConcurrentQueue(None, False)
    with pytest.raises(TypeError):
        ConcurrentQueue(scaling="x")
    with pytest.raises(ValueError):
        ConcurrentQueue(scaling=-1)


def test_object_protocols():
    q = ConcurrentQueue()
    assert weakref.ref(q)() is q
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(q)
    assert ConcurrentQueue[int] is not None
    assert "ConcurrentQueue size=0" in repr(q)

    class Sub(ConcurrentQueue):
        pass

    s = Sub()
    s.push(1)
    assert s.pop() == 1


# -- shutdown and lifetime -------------------------------------------------------

def test_graceful_shutdown_drains_then_raises():
    q = ConcurrentQueue()
    q.push_many([1, 2, 3])
    q.shutdown()
    with pytest.raises(ShutDown):
        q.push(4)
    with pytest.raises(ShutDown):
        q.push_many([4])
    assert q.pop() == 1 and q.pop_many(5) == [2, 3]
    with pytest.raises(ShutDown):
        q.pop()
    with pytest.raises(ShutDown):
        q.pop_many(1)
    assert "shut down" in repr(q)


def test_immediate_shutdown_raises_and_releases_items():
    q = ConcurrentQueue()
    items = [Item(i) for i in range(100)]
    refs = [weakref.ref(i) for i in items]
    q.push_many(items)
    del items
    assert all(r() is not None for r in refs)
    q.shutdown(immediate=True)
    collect_if_pypy()
    assert all(r() is None for r in refs)  # released at once, no gc needed
    with pytest.raises(ShutDown):
        q.pop()
    with pytest.raises(ShutDown):
        q.push(1)


def test_blocked_pop_wakes_on_shutdown():
    q = ConcurrentQueue()
    errors = []

    def waiter():
        try:
            q.pop()
        except ShutDown as exc:
            errors.append(exc)

    ts = [threading.Thread(target=waiter) for _ in range(3)]
    for t in ts:
        t.start()
    time.sleep(0.1)
    q.shutdown()
    for t in ts:
        t.join(5)
    assert len(errors) == 3


def test_collected_queue_releases_its_items():
    q = ConcurrentQueue()
    items = [Item(i) for i in range(50)]
    refs = [weakref.ref(i) for i in items]
    q.push_many(items)
    del items, q
    gc.collect()
    assert all(r() is None for r in refs)


def test_queue_cycle_is_collectable():
    q = ConcurrentQueue()
    q.push(q)
    r = weakref.ref(q)
    del q
    gc.collect()
    assert r() is None


def test_close_is_idempotent_and_use_after_close_is_clear():
    q = ConcurrentQueue()
    item = Item(1)
    r = weakref.ref(item)
    q.push(item)
    del item
    q.close()
    q.close()
    collect_if_pypy()
    assert r() is None
    with pytest.raises(BadHandleError):
        q.push(1)
    with pytest.raises(BadHandleError):
        q.pop()
    with pytest.raises(ValueError):  # BadHandleError is a ValueError
        q.size()
    assert "closed" in repr(q)
    with ConcurrentQueue() as q2:
        q2.push(1)
    with pytest.raises(ValueError):
        q2.pop()


# -- concurrency ---------------------------------------------------------------

def test_mpmc_every_item_once_in_producer_order(threads):
    """4 producers x 4 consumers x 250,000 items each: every item popped
    exactly once, and every consumer sees each producer's items in order."""
    from ftkit import AtomicInt64

    producers, consumers, per = 4, 4, 250_000
    q = ConcurrentQueue()
    finished = AtomicInt64()  # producers done

    def body(i):
        if i < producers:
            base = i * per
            k = 0
            while k < per:  # mix single and batch pushes
                if k % 3 == 0:
                    end = min(k + 16, per)
                    q.push_many(range(base + k, base + end))
                    k = end
                else:
                    q.push(base + k)
                    k += 1
            finished.incr()
            return []
        out = []
        while True:
            try:
                out.extend(q.pop_many(32, timeout=0.05) if i % 2 else [q.pop(timeout=0.05)])
            except Empty:
                if finished.get() == producers and q.empty():
                    return out

    results = threads(producers + consumers, body)
    allv = [v for r in results for v in r]
    assert len(allv) == producers * per
    assert sorted(allv) == list(range(producers * per))
    for r in results:
        last = [-1] * producers
        for v in r:
            p = v // per
            assert v > last[p]
            last[p] = v


def test_shutdown_while_many_threads_push_and_pop():
    q = ConcurrentQueue()
    popped, pushed = [], []

    def body(i):
        mine = []
        try:
            if i % 2:
                for k in range(100_000):
                    q.push((i, k))
                    mine.append((i, k))
            else:
                while True:
                    mine.append(q.pop())
        except ShutDown:
            pass
        (pushed if i % 2 else popped).append(mine)

    ts = [threading.Thread(target=body, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    time.sleep(0.2)
    q.shutdown()
    for t in ts:
        t.join(60)
    p = sorted(x for m in pushed for x in m)
    c = sorted(x for m in popped for x in m)
    assert p == c  # graceful: everything pushed was popped exactly once


# -- StdConcurrentQueue vs queue.Queue ---------------------------------------------

def _apply(q, op):
    name, args = op
    try:
        r = getattr(q, name)(*args)
        return ("ok", r)
    except Exception as exc:  # noqa: BLE001
        return ("raise", type(exc).__name__)


def _script(rng, maxsize):
    ops = []
    for _ in range(400):
        c = rng.random()
        if c < 0.3:
            ops.append(("put_nowait", (rng.randrange(100),)))
        elif c < 0.45:
            ops.append(("put", (rng.randrange(100), True, 0.001)))
        elif c < 0.6:
            ops.append(("get_nowait", ()))
        elif c < 0.7:
            ops.append(("get", (True, 0.001)))
        elif c < 0.75:
            ops.append(("get", (False,)))
        elif c < 0.85:
            ops.append(("task_done", ()))
        elif c < 0.9:
            ops.append(("qsize", ()))
        elif c < 0.95:
            ops.append(("full", ()))
        else:
            ops.append(("empty", ()))
    if rng.random() < 0.5:
        ops.insert(rng.randrange(len(ops)), ("shutdown", (rng.random() < 0.5,)))
    return ops


@pytest.mark.parametrize("maxsize", [0, 1, 3, 10])
@pytest.mark.parametrize("seed", range(5))
def test_std_matches_queue_queue(maxsize, seed):
    rng = random.Random(seed * 100 + maxsize)
    ops = _script(rng, maxsize)
    ref, mine = queue.Queue(maxsize), StdConcurrentQueue(maxsize)
    if not hasattr(ref, "shutdown"):
        ops = [o for o in ops if o[0] != "shutdown"]
    for op in ops:
        assert _apply(mine, op) == _apply(ref, op), op
        assert mine.unfinished_tasks == ref.unfinished_tasks, op
    assert mine.maxsize == ref.maxsize


def test_std_exceptions_are_the_queue_modules():
    q = StdConcurrentQueue(1)
    q.put(1)
    with pytest.raises(queue.Full):
        q.put_nowait(2)
    with pytest.raises(queue.Full):
        q.put(2, timeout=0.01)
    assert q.get() == 1
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(ValueError):
        q.get(timeout=-1)
    with pytest.raises(ValueError):
        q.put(1, timeout=-0.5)
    assert Empty is queue.Empty and Full is queue.Full


def test_std_bound_is_exact_under_threads():
    q = StdConcurrentQueue(maxsize=5)
    peak = [0]
    stop = threading.Event()

    def producer():
        for i in range(5000):
            q.put(i)

    def watcher():
        while not stop.is_set():
            peak[0] = max(peak[0], q.qsize())

    w = threading.Thread(target=watcher)
    ps = [threading.Thread(target=producer) for _ in range(3)]
    w.start()
    for p in ps:
        p.start()
    got = 0
    while got < 15000:
        q.get()
        got += 1
    for p in ps:
        p.join()
    stop.set()
    w.join()
    assert peak[0] <= 5


def test_std_task_done_too_often_and_join():
    q = StdConcurrentQueue()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    for i in range(100):
        q.put(i)
    assert q.unfinished_tasks == 100
    finished = threading.Event()

    def joiner():
        q.join()
        finished.set()

    j = threading.Thread(target=joiner)
    j.start()

    def worker():
        while True:
            try:
                q.get(timeout=0.2)
            except Empty:
                return
            q.task_done()

    ws = [threading.Thread(target=worker) for _ in range(3)]
    for w in ws:
        w.start()
    j.join(10)
    assert finished.is_set() and q.unfinished_tasks == 0
    for w in ws:
        w.join()
    with pytest.raises(ValueError):
        q.task_done()


def test_std_shutdown_immediate_releases_and_unblocks_join():
    q = StdConcurrentQueue()
    items = [Item(i) for i in range(10)]
    refs = [weakref.ref(i) for i in items]
    for it in items:
        q.put(it)
    del items, it
    q.shutdown(immediate=True)
    collect_if_pypy()
    assert all(r() is None for r in refs)
    assert q.unfinished_tasks == 0
    q.join()  # returns at once
    with pytest.raises(ShutDown):
        q.get()
    with pytest.raises(ShutDown):
        q.put(1)


def test_std_blocked_put_and_get_wake_on_shutdown():
    full = StdConcurrentQueue(1)
    full.put(0)
    empty = StdConcurrentQueue()
    raised = []

    def put():
        try:
            full.put(1)
        except ShutDown:
            raised.append("put")

    def get():
        try:
            empty.get()
        except ShutDown:
            raised.append("get")

    ts = [threading.Thread(target=put), threading.Thread(target=get)]
    for t in ts:
        t.start()
    time.sleep(0.1)
    full.shutdown()
    empty.shutdown()
    for t in ts:
        t.join(5)
    assert sorted(raised) == ["get", "put"]


def test_push_many_pop_many_methods_of_a_subclass():
    # A subclass that overrides push_many/pop_many gets the class methods
    # (not the installed closures) through super(): same results.
    class Q(ConcurrentQueue):
        def push_many(self, items):
            super().push_many(items)

        def pop_many(self, max_items, timeout=None):
            return super().pop_many(max_items, timeout)

    q = Q()
    q.push_many([1])
    q.push_many(range(2, 40))
    q.push_many([])
    q.push(40)
    assert q.pop_many(5) == [1, 2, 3, 4, 5]
    assert q.pop_many(100) == list(range(6, 41))
    for _ in range(200):  # slices: the scattered path, bounded table
        q.push_many(list(range(64)))
        got = []
        while len(got) < 64:
            got += q.pop_many(7)
        assert got == list(range(64))
    assert len(q._slots.objs) <= 512 and q._slots.live() == 0
    with pytest.raises(Empty):
        q.pop_many(3, timeout=0)
