"""Dict workloads: 50/50 get/set over 1,000 int keys and 1,000 str keys, sets
of new keys, and reduce at batch 64. ftkit ConcurrentDict beside dict,
threading.Lock + dict, and ft_utils' ConcurrentDict where installed. A 50/50
statement does one get and one set (per_op=2), keys cycling through the key
set; a new-key statement sets one int key that no thread set before."""
from __future__ import annotations

from _harness import Case, try_import

KEYS_INT = list(range(1000))
KEYS_STR = [f"key-{i}" for i in range(1000)]


def _shared_for(make):
    def shared() -> dict:
        import operator
        import threading

        d_int, d_str = make(), make()
        for k in KEYS_INT:
            d_int[k] = 0
        for k in KEYS_STR:
            d_str[k] = 0
        pairs = [(KEYS_STR[(i * 37) % 1000], 1) for i in range(64)]
        return {"d_int": d_int, "d_str": d_str, "d_new": make(), "lock": threading.Lock(),
                "KEYS_INT": KEYS_INT, "KEYS_STR": KEYS_STR, "pairs64": pairs,
                "add": operator.add}
    return shared


SETUP = "import itertools; ki = itertools.cycle(KEYS_INT); ks = itertools.cycle(KEYS_STR)"
# a key range per thread (setup runs in each thread)
NEW_KEYS = "import itertools, threading; kn = itertools.count(threading.get_ident() << 24)"


def cases() -> list[Case]:
    import ftkit

    F = "dicts"
    impls = [("ftkit ConcurrentDict", ftkit.ConcurrentDict, False),
             ("stdlib dict (no lock: not thread-safe)", dict, False),
             ("stdlib threading.Lock + dict", dict, True)]
    ft = try_import("ft_utils.concurrency")
    if ft is not None:
        impls.append(("ft_utils ConcurrentDict", ft.ConcurrentDict, False))
    out = []
    for name, make, locked in impls:
        for kind, it in (("int", "ki"), ("str", "ks")):
            if locked:
                stmt = f"k = next({it})\nwith lock: d_{kind}[k] = 1\nwith lock: d_{kind}[k]"
            else:
                stmt = f"k = next({it}); d_{kind}[k] = 1; d_{kind}[k]"
            out.append(Case(F, f"50/50 get/set, 1,000 {kind} keys", name, stmt, SETUP,
                            shared=_shared_for(make), number=100_000, per_op=2))
        # adding keys: each thread sets int keys no thread set before
        stmt = "with lock: d_new[next(kn)] = 1" if locked else "d_new[next(kn)] = 1"
        out.append(Case(F, "set of a new key", name, stmt, NEW_KEYS,
                        shared=_shared_for(make), number=100_000))
    def _floor() -> dict:
        d = _shared_for(ftkit.ConcurrentDict)()
        from ftkit._lib import lib

        d.update(h=d["d_int"]._h, find1=lib.ftk_map_find1_v)
        return d

    out.append(Case(F, "50/50 get/set, 1,000 int keys", "ftkit raw cffi floor (find1_v per op)",
                    "k = next(ki); find1(h, k); find1(h, k)", SETUP, shared=_floor,
                    number=100_000, per_op=2,
                    note="a get is one such call; a set is two (find, then set or insert)"))
    out.append(Case(F, "reduce per pair, batch 64", "ftkit ConcurrentDict.reduce",
                    "d_str.reduce(pairs64, add)", shared=_shared_for(ftkit.ConcurrentDict),
                    number=2000, per_op=64))
    out.append(Case(F, "reduce per pair, batch 64", "stdlib Lock + dict loop",
                    "with lock:\n    for k, v in pairs64: d_str[k] = d_str[k] + v",
                    shared=_shared_for(dict), number=2000, per_op=64))
    return out
