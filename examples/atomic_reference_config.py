"""Publish a new configuration to many reader threads, atomically.

Readers always see one complete configuration object, never a half-updated
one; an updater uses compare_exchange so that two concurrent updates never
overwrite each other.

Run: python examples/atomic_reference_config.py
"""
import threading
from types import MappingProxyType

from ftkit import AtomicReference

config = AtomicReference(MappingProxyType({"version": 0, "limit": 10}))


def bump_version() -> None:
    while True:  # classic CAS loop: read, compute, publish if unchanged
        old = config.get()
        new = MappingProxyType({**old, "version": old["version"] + 1})
        if config.compare_exchange(old, new):
            return


def reader(seen: list) -> None:
    for _ in range(20_000):
        cfg = config.get()
        assert cfg["limit"] == 10  # always a complete object
        seen.append(cfg["version"])


seen: list = []
threads = [threading.Thread(target=reader, args=(seen,)) for _ in range(2)]
threads += [threading.Thread(target=lambda: [bump_version() for _ in range(1000)])
            for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()

print(f"final version {config.get()['version']}, readers saw up to {max(seen)}")
assert config.get()["version"] == 4000
