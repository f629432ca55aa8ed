"""A read-mostly cache guarded by an RWLock, and a batch job that shares a
lock politely with an IntervalLock.

Readers look values up concurrently (each through its own thread-owned view
of the lock); a writer swaps in new versions now and then and every reader
sees either the old or the new version of the whole table, never a mix.

Run: python examples/rwlock_cache.py
"""
import threading
import time

from ftkit.synchronization import IntervalLock, RWLock

lock = RWLock()
table = {"version": 0, "a": 0, "b": 0}  # invariant: a == b == version
torn = []


def reader(lookups: int) -> None:
    mine = lock.local()  # made by this thread: its own callables and handle
    read = mine.read()   # a reusable context manager
    for _ in range(lookups):
        with read:
            v, a, b = table["version"], table["a"], table["b"]
        if not v == a == b:
            torn.append((v, a, b))


def writer(updates: int) -> None:
    for v in range(1, updates + 1):
        # lock_write takes a timeout like threading.Lock.acquire
        if not lock.lock_write(timeout=5):
            raise RuntimeError("could not update the cache within 5 s")
        try:
            table["version"] = v
            table["a"] = v
            table["b"] = v
        finally:
            lock.unlock_write()


threads = [threading.Thread(target=reader, args=(5000,)) for _ in range(3)]
threads.append(threading.Thread(target=writer, args=(200,)))
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not torn, torn[:3]
assert table == {"version": 200, "a": 200, "b": 200}
print(f"3 readers x 5000 lookups, 200 updates: no torn read; version {table['version']}")

# A long job holds an IntervalLock and polls it: every 5 ms, if someone
# else waits, the job lets one waiter in and carries on afterwards.
job_lock = IntervalLock(interval=0.005)
job_started = threading.Event()
steps = [0]  # steps done by the job
quick_waits = []
in_time = []


def long_job() -> None:
    with job_lock:
        job_started.set()
        end = time.monotonic() + 30  # a long job; it stops once the quick tasks ran
        while time.monotonic() < end and len(quick_waits) < 3:
            sum(range(100))  # a step of work
            steps[0] += 1
            job_lock.poll()
        in_time.append(len(quick_waits) == 3)


def quick_task() -> None:
    with job_lock:
        quick_waits.append(steps[0])  # how far the job got before we ran


job = threading.Thread(target=long_job)
job.start()
job_started.wait()
quick = [threading.Thread(target=quick_task) for _ in range(3)]
for t in quick:
    t.start()
for t in quick + [job]:
    t.join()
assert len(quick_waits) == 3 and not job_lock.locked()
assert in_time == [True], "the job did not let the quick tasks in"
print(f"a job of {steps[0]} steps let 3 quick tasks in after steps {sorted(quick_waits)}")
