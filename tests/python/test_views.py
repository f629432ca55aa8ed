"""Thread-owned views (``x.local()``, issue 11): same methods, same state,
objects owned by the calling thread; correct (only not thread-owned) when
used from another thread; closing or collecting behaves like the object."""
from __future__ import annotations

import gc
import threading
import weakref

import pytest

import ftkit
from ftkit import (AtomicFlag, AtomicInt64, AtomicReference, BadHandleError, ConcurrentDeque,
                   ConcurrentDict, ConcurrentQueue, StdConcurrentQueue)

from conftest import run_threads


def test_atomic_int64_views_conserve_sums_under_8_threads():
    n = AtomicInt64(0)

    def body(i: int) -> None:
        v = n.local()
        incr, decr, add = v.incr, v.decr, v.add
        for _ in range(20000):
            incr()
        for _ in range(5000):
            decr()
        add(i)

    run_threads(8, body)
    assert n.get() == 8 * 15000 + sum(range(8))


def test_a_view_is_the_same_object_state():
    n = AtomicInt64(5)
    v = n.local()
    assert type(v) is AtomicInt64 and v is not n
    v.incr()
    n += 10
    assert v.get() == n.get() == 16 and int(v) == 16
    f = AtomicFlag(False)
    fv = f.local()
    fv.set(True)
    assert f.get() is True and bool(fv)
    r = AtomicReference("a")
    rv = r.local()
    assert rv.compare_exchange("a", "b") and r.get() == "b"
    d = ConcurrentDict({1: 2})
    dv = d.local()
    dv[3] = 4
    assert d == {1: 2, 3: 4} and dv.get(1) == 2 and len(dv) == 2
    q = ConcurrentQueue()
    qv = q.local()
    qv.push_many([1, 2, 3])
    assert q.pop() == 1 and qv.pop_many(5) == [2, 3]
    sq = StdConcurrentQueue(2)
    sqv = sq.local()
    sqv.put(1)
    assert sq.get() == 1 and sqv.qsize() == 0
    dq = ConcurrentDeque([1])
    dqv = dq.local()
    dqv.appendleft(0)
    assert list(dq) == [0, 1] and dq.popleft() == 0


def test_queue_views_move_every_item_once_under_8_threads():
    q = ConcurrentQueue()
    per = 5000
    got: list = []
    lock = threading.Lock()
    taken = AtomicInt64(0)

    def body(i: int) -> None:
        v = q.local()
        if i < 4:
            for k in range(per):
                v.push((i, k))
            return
        mine = []
        while taken.get() < 4 * per:
            try:
                batch = v.pop_many(64, timeout=0.05)
            except ftkit.Empty:
                continue
            mine.extend(batch)
            taken.add(len(batch))
        with lock:
            got.extend(mine)

    run_threads(8, body)
    assert sorted(got) == sorted((i, k) for i in range(4) for k in range(per))
    assert q.size() == 0 and q._slots.live() == 0


def test_dict_views_under_8_threads():
    d = ConcurrentDict()

    def body(i: int) -> None:
        v = d.local()
        for k in range(2000):
            v[(i, k)] = k
        for k in range(0, 2000, 2):
            del v[(i, k)]

    run_threads(8, body)
    assert len(d) == 8 * 1000
    assert all(d[(i, k)] == k for i in range(8) for k in range(1, 2000, 2))


def test_a_view_used_from_another_thread_is_correct():
    n = AtomicInt64(0)
    v = n.local()  # made here, used by 4 other threads: correct, only not thread-owned
    run_threads(4, lambda i: [v.incr() for _ in range(10000)])
    assert n.get() == 40000
    q = ConcurrentQueue()
    qv = q.local()
    run_threads(4, lambda i: [qv.push(i) for _ in range(1000)])
    assert sorted(q.pop_many(5000)) == sorted([i for i in range(4) for _ in range(1000)])


def test_views_of_a_closed_object_fail_cleanly():
    q = ConcurrentQueue()
    v = q.local()
    q.close()
    with pytest.raises(BadHandleError):
        v.push(1)
    with pytest.raises(BadHandleError):
        q.local().pop(timeout=0)
    v.close()  # idempotent through a view too
    d = ConcurrentDeque([1])
    dv = d.local()
    dv.close()
    with pytest.raises(BadHandleError):
        d.append(2)
    d.close()


def test_a_view_keeps_its_object_alive_and_leaks_nothing():
    class Item:
        pass

    q = ConcurrentQueue()
    items = [Item() for _ in range(100)]
    alive = weakref.WeakSet(items)
    v = q.local()
    v.push_many(items)
    del q, items
    gc.collect()
    assert len(v.pop_many(1000)) == 100
    gc.collect()
    assert len(alive) == 0
    ref = weakref.ref(v)
    del v
    gc.collect()
    assert ref() is None


def test_every_primitive_has_a_view():
    for cls, args in ((AtomicInt64, ()), (AtomicFlag, ()), (AtomicReference, ()),
                      (ConcurrentDict, ()), (ConcurrentQueue, ()), (StdConcurrentQueue, ()),
                      (ConcurrentDeque, ())):
        assert callable(cls(*args).local)
    for name in ("AtomicCounter", "RWLock", "IntervalLock"):
        cls = getattr(ftkit, name, None)
        if cls is not None:
            assert callable(cls().local)


def test_interval_lock_view_excludes_like_the_lock():
    il = ftkit.IntervalLock()
    count = [0]

    def body(i: int) -> None:
        v = il.local()
        for _ in range(2000):
            v.lock()
            c = count[0]
            count[0] = c + 1  # a lost update shows a broken exclusion
            v.unlock()

    run_threads(4, body)
    assert count[0] == 8000 and not il.locked()


def test_every_primitive_has_a_view_through_native():
    # every class that owns a handle derives from the one base, so local()
    # (and LocalWrapper's use of it) reaches all of them, the new ones too
    from ftkit._common import Native

    names = [n for n in ftkit.__all__ if isinstance(getattr(ftkit, n), type)
             and issubclass(getattr(ftkit, n), Native)]
    for n in ("AtomicInt64", "ConcurrentDict", "ConcurrentQueue", "ConcurrentDeque",
              "ConcurrentGatheringIterator", "BatchExecutor", "ProcessSemaphore",
              "RWLock", "IntervalLock", "AtomicCounter"):
        assert n in names, n


def test_local_wrapper_of_an_ftkit_object_calls_through_a_view():
    # ft_utils' idiom, LocalWrapper(x), gets the thread-owned view for ftkit
    # objects: calls go through it, while .wrapped, comparisons and hashing
    # are the object's own
    n = AtomicInt64(5)
    w = ftkit.LocalWrapper(n)
    assert w.wrapped is n and w._fast is not n and type(w._fast) is AtomicInt64
    assert w.incr() == 6 and n.get() == 6
    w += 4  # AtomicInt64's in-place add returns itself: same object, same view
    assert w.wrapped is n and n.get() == 10 and w == 10 and int(w) == 10

    f = AtomicFlag(True)
    wf = ftkit.LocalWrapper(f)
    assert wf == f and hash(wf) == hash(f) and bool(wf)  # identity-compared
    wf.set(False)
    assert not f.get()

    d = ConcurrentDict({1: "a"})
    wd = ftkit.LocalWrapper(d)
    wd[2] = "b"
    assert d[2] == "b" and wd[1] == "a" and len(wd) == 2 and 2 in wd
    assert sorted(wd) == [1, 2]

    q = ConcurrentQueue()
    wq = ftkit.LocalWrapper(q)
    wq.push(7)
    assert q.pop() == 7

    # attributes set through the wrapper reach the object and the view
    wq.tag = "x"
    assert q.tag == "x" and wq.tag == "x"
    del wq.tag
    assert not hasattr(q, "tag") and not hasattr(wq, "tag")

    # a plain object is forwarded as before
    items = [1]
    wl = ftkit.LocalWrapper(items)
    assert wl._fast is items and wl.wrapped is items


def test_local_wrappers_made_per_thread_conserve_sums():
    n = AtomicInt64(0)
    d = ConcurrentDict()

    def body(i: int) -> None:
        wn = ftkit.LocalWrapper(n)  # made by this thread: its own view
        wd = ftkit.LocalWrapper(d)
        for k in range(2000):
            wn.incr()
            wd[(i, k)] = k

    run_threads(8, body)
    assert n.get() == 16000 and len(d) == 16000


def _module_functions() -> set:
    """Every cffi function object the binding's modules hold at module level."""
    import ftkit._lib as L
    import ftkit.atomic, ftkit.batch, ftkit.counter, ftkit.deque, ftkit.gather  # noqa: E401
    import ftkit.queues, ftkit.synchronization  # noqa: E401
    fn_type = type(L.lib.ftk_last_status)
    out = set()
    for m in (ftkit.atomic, ftkit.batch, ftkit.counter, ftkit.deque, ftkit.gather, ftkit.queues,
              ftkit.synchronization):
        out |= {id(v) for v in vars(m).values() if type(v) is fn_type}
    return out


def _captured(fn, depth: int = 3) -> list:
    """The objects a fast path carries: a partial's function, a closure's
    cells, and those of the closures in them (a view's load calls inner ones)."""
    func = getattr(fn, "func", None)
    if func is not None:  # functools.partial
        return [func]
    out = []
    for c in getattr(fn, "__closure__", None) or ():
        try:
            o = c.cell_contents
        except ValueError:  # an empty cell
            continue
        out.append(o)
        if depth and callable(o) and getattr(o, "__closure__", None):
            out += _captured(o, depth - 1)
    return out


def test_view_fast_paths_call_this_threads_copies_of_the_c_functions():
    # A view's hot paths must not load the module's function objects (made by
    # the importing thread): every thread would update their reference counts.
    shared = _module_functions()
    from ftkit import BatchExecutor, ConcurrentGatheringIterator, IntervalLock
    from ftkit.counter import AtomicCounter
    cases = [(AtomicInt64(), ("incr", "decr", "get")), (AtomicCounter(), ("incr", "decr")),
             (ConcurrentQueue(), ("push", "pop", "push_many", "pop_many")),
             (StdConcurrentQueue(), ("put", "get")),
             (ConcurrentDeque(), ("append", "appendleft", "pop", "popleft")),
             (ConcurrentGatheringIterator(), ("insert",)),
             (BatchExecutor(lambda: 1, 4), ("load",)), (IntervalLock(), ("lock", "unlock"))]
    got: dict = {}

    def body() -> None:
        for obj, names in cases:
            v = obj.local()
            for name in names:
                got[type(obj).__name__, name] = (_captured(v.__dict__[name]),
                                                 _captured(obj.__dict__[name]))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert len(got) == sum(len(n) for _, n in cases)
    fn_type = type(ftkit._lib.lib.ftk_last_status)
    # the classes whose methods read their C functions from instance attributes
    from ftkit import ProcessSemaphore
    from ftkit import dicts as dicts_module, semaphore as semaphore_module
    attr_cases = [(ConcurrentDict(), ("_f_lookup", "_f_set_value", "_f_insert", "_f_put")),
                  (AtomicFlag(), ("_f_load", "_f_store")),
                  (AtomicReference(), ("_f_load", "_f_exchange", "_f_cas")),
                  (ProcessSemaphore(2), ("_f_try", "_f_release"))]
    shared |= {id(v) for m in (dicts_module, semaphore_module) for v in vars(m).values()
               if type(v) is fn_type}
    lib = ftkit._lib.lib  # its functions, as `lib.ftk_...` returns them (cached)
    shared |= {id(getattr(lib, n)) for n in dir(lib)
               if n.startswith("ftk_") and type(getattr(lib, n)) is fn_type}
    views: list = []
    t = threading.Thread(target=lambda: views.extend(o.local() for o, _ in attr_cases))
    t.start()
    t.join()
    for (obj, names), view in zip(attr_cases, views):
        for name in names:
            assert id(obj.__dict__[name]) in shared, (type(obj).__name__, name)
            assert id(view.__dict__[name]) not in shared, (type(obj).__name__, name)
    for key, (view_objs, obj_objs) in got.items():
        view_fns = [o for o in view_objs if type(o) is fn_type]
        # the object itself calls the module's functions; its view, copies
        assert [o for o in obj_objs if type(o) is fn_type and id(o) in shared], key
        assert view_fns and not [o for o in view_fns if id(o) in shared], key
