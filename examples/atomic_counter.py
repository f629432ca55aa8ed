"""Count events from many threads without a lock, and without losing any.

Run: python examples/atomic_counter.py
"""
import threading

from ftkit import AtomicInt64

requests = AtomicInt64()
errors = AtomicInt64()


def handle(n: int) -> None:
    incr = requests.incr  # bind once: the hot loop calls straight into C
    for i in range(n):
        incr()
        if i % 100 == 0:
            errors.add(1)


threads = [threading.Thread(target=handle, args=(50_000,)) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()

print(f"requests={requests.get()} errors={errors.get()}")
assert requests == 8 * 50_000
assert errors == 8 * 500
