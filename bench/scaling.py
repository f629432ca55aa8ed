#!/usr/bin/env python3
"""Scaling with threads: every primitive at 1, 2, 4, ... os.cpu_count() threads.

    python bench/scaling.py [--quick] [--threads 1,2,4] [--only NAME] [--json F] [--md F] [--plot DIR]

For each workload, in one process and one run: ftkit through a shared object,
ftkit through thread-owned views (``x.local()`` made in each thread), the
bare cffi call (the floor), and the peers that import here (ft_utils, the
stdlib). Aggregate Mops/s per thread count (total operations / wall time,
threads released by a barrier, best of ``--repeat``), so a row that scales
grows to the right. Each thread's setup (``setup``) runs in that thread:
that is where views are made. The markdown table goes to docs/performance.md
("Scaling"); ``--plot`` draws one PNG per family (matplotlib, if installed).

On a machine with fewer cores than threads, or a loaded one, the curve
flattens for reasons that are not ftkit's: the table header names the
machine and its load average at the start of the run.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import Case, _run_threads, interpreter, try_import  # noqa: E402

import ftkit  # noqa: E402


def _threads_default() -> tuple:
    n = os.cpu_count() or 1
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    ks.append(n)
    return tuple(ks)


def cases() -> list:
    ftu = try_import("ft_utils.concurrency")
    ftsync = try_import("ft_utils.synchronization")
    out: list = []

    def add(family, name, impl, stmt, setup="pass", shared=dict, number=100_000, per_op=1,
            pairs=False):
        out.append(Case(family, name, impl, stmt, setup, shared, number, per_op=per_op,
                        pairs=pairs))

    # -- atomics: one shared counter ---------------------------------------------
    sh = lambda: {"n": ftkit.AtomicInt64(), "ftkit": ftkit}  # noqa: E731
    add("atomics", "incr, one shared counter", "ftkit shared object", "incr()",
        "incr = n.incr", sh)
    add("atomics", "incr, one shared counter", "ftkit view (n.local())", "incr()",
        "incr = n.local().incr", sh)
    add("atomics", "incr, one shared counter", "raw cffi, per-thread handle + fn copy", "incr()",
        "from functools import partial\nfrom ftkit._lib import ffi, lib\n"
        "from ftkit._common import call_handle\n"
        "f = ffi.cast(ffi.typeof(lib.ftk_int64_add_v), lib.ftk_int64_add_v)\n"
        "incr = partial(f, call_handle(n._owner), 1)", sh)
    add("atomics", "incr, one shared counter", "stdlib Lock + int", "with lock: box[0] += 1",
        "pass", lambda: {"lock": __import__("threading").Lock(), "box": [0]})
    if ftu is not None:
        add("atomics", "incr, one shared counter", "ft_utils AtomicInt64", "incr()",
            "incr = n.incr", lambda: {"n": ftu.AtomicInt64(0)})
    if hasattr(ftkit, "AtomicCounter"):
        shc = lambda: {"c": ftkit.AtomicCounter()}  # noqa: E731
        add("atomics", "incr, one shared counter", "ftkit AtomicCounter view", "incr()",
            "incr = c.local().incr", shc)
        add("atomics", "incr, one shared counter", "ftkit AtomicCounter shared", "incr()",
            "incr = c.incr", shc)

    # -- dict: 50/50 get/set over 1024 int keys ------------------------------------
    def shd():
        d = ftkit.ConcurrentDict()
        for k in range(1024):
            d[k] = k
        return {"d": d}

    dstmt = "k = keys[i & 1023]; i += 1\nif i & 1: st(k, i)\nelse: gt(k)"
    dsetup = "keys = list(range(1024)); i = 0\n"
    add("dicts", "50/50 get/set, 1024 int keys", "ftkit shared object", dstmt,
        dsetup + "gt, st = d.get, d.__setitem__", shd, number=50_000)
    add("dicts", "50/50 get/set, 1024 int keys", "ftkit view (d.local())", dstmt,
        dsetup + "v = d.local(); gt, st = v.get, v.__setitem__", shd, number=50_000)
    add("dicts", "50/50 get/set, 1024 int keys", "raw cffi lookup_v (floor of a get)",
        "lk(h, hv)", "from ftkit._lib import lib\nfrom ftkit._common import call_handle\n"
        "lk = lib.ftk_map_lookup_v; h = call_handle(d._owner); hv = hash(7)", shd,
        number=50_000)
    add("dicts", "50/50 get/set, 1024 int keys", "builtin dict (racy)", dstmt,
        dsetup + "gt, st = bd.get, bd.__setitem__",
        lambda: {"bd": {k: k for k in range(1024)}}, number=50_000)
    if ftu is not None:
        def shf():
            d = ftu.ConcurrentDict()
            for k in range(1024):
                d[k] = k
            return {"d": d}
        add("dicts", "50/50 get/set, 1024 int keys", "ft_utils ConcurrentDict", dstmt,
            dsetup + "gt, st = d.get, d.__setitem__", shf, number=50_000)

    # -- queue: each thread pushes then pops (a pair per op) ---------------------
    shq = lambda: {"q": ftkit.ConcurrentQueue()}  # noqa: E731
    add("queues", "push + pop pair per thread", "ftkit shared object", "push(1); pop()",
        "push, pop = q.push, q.pop", shq, number=50_000)
    add("queues", "push + pop pair per thread", "ftkit view (q.local())", "push(1); pop()",
        "v = q.local(); push, pop = v.push, v.pop", shq, number=50_000)
    add("queues", "push + pop pair per thread", "stdlib SimpleQueue", "put(1); get()",
        "put, get = sq.put, sq.get", lambda: {"sq": __import__("queue").SimpleQueue()},
        number=50_000)
    add("queues", "push_many + pop_many(64) per thread", "ftkit view (q.local())",
        "pm(b); pom(64)", "v = q.local(); pm, pom = v.push_many, v.pop_many; b = list(range(64))",
        shq, number=5_000, per_op=64)
    if ftu is not None:
        add("queues", "push + pop pair per thread", "ft_utils ConcurrentQueue",
            "push(1); pop()", "push, pop = q.push, q.pop",
            lambda: {"q": ftu.ConcurrentQueue()}, number=20_000)

    # -- queue pipeline: half the threads push, half pop (blocking) ----------------
    # Each thread's setup takes a role from a shared counter (odd: producer);
    # producers and consumers do the same number of operations, so the queue
    # ends empty. Items/s = operations/s / 2.
    pipe = "P, C = n/2 producers + n/2 consumers"

    def shp(q):
        return lambda: {"q": q(), "roles": ftkit.AtomicInt64()}

    role = "me = roles.incr()\n"
    add("queues", pipe, "ftkit shared object", "op(a)",
        role + "op, a = (q.push, 1) if me & 1 else (q.pop, None)",
        shp(ftkit.ConcurrentQueue), number=50_000, pairs=True)
    add("queues", pipe, "ftkit view (q.local())", "op(a)",
        role + "v = q.local(); op, a = (v.push, 1) if me & 1 else (v.pop, None)",
        shp(ftkit.ConcurrentQueue), number=50_000, pairs=True)
    add("queues", pipe, "stdlib SimpleQueue", "op(a)",
        role + "op, a = (q.put, 1) if me & 1 else (q.get, True)",
        shp(__import__("queue").SimpleQueue), number=50_000, pairs=True)
    if ftu is not None:
        add("queues", pipe, "ft_utils ConcurrentQueue", "op(a)",
            role + "op, a = (q.push, 1) if me & 1 else (q.pop, None)",
            shp(ftu.ConcurrentQueue), number=20_000, pairs=True)

    # -- deque: append + popleft per thread --------------------------------------
    if hasattr(ftkit, "ConcurrentDeque"):
        shdq = lambda: {"d": ftkit.ConcurrentDeque()}  # noqa: E731
        add("deques", "append + popleft pair per thread", "ftkit shared object",
            "app(1); pl()", "app, pl = d.append, d.popleft", shdq, number=50_000)
        add("deques", "append + popleft pair per thread", "ftkit view (d.local())",
            "app(1); pl()", "v = d.local(); app, pl = v.append, v.popleft", shdq,
            number=50_000)

    # -- rwlock: read lock + unlock ------------------------------------------------
    if hasattr(ftkit, "RWLock"):
        shr = lambda: {"rw": ftkit.RWLock()}  # noqa: E731
        add("locks", "read lock + unlock", "ftkit RWLock shared object", "lr(); ur()",
            "lr, ur = rw.lock_read, rw.unlock_read", shr)
        add("locks", "read lock + unlock", "ftkit RWLock view (rw.local())", "lr(); ur()",
            "v = rw.local(); lr, ur = v.lock_read, v.unlock_read", shr)
        add("locks", "read lock + unlock", "stdlib Lock acquire + release", "a(); r()",
            "a, r = lk.acquire, lk.release", lambda: {"lk": __import__("threading").Lock()})
        if ftsync is not None:
            add("locks", "read lock + unlock", "ft_utils RWLock", "lr(); ur()",
                "lr, ur = rw.lock_read, rw.unlock_read", lambda: {"rw": ftsync.RWLock()})
    return out


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", help="comma-separated thread counts (default 1,2,4..cpus)")
    ap.add_argument("--only", action="append", help="only these families")
    ap.add_argument("--min-time", type=float, default=0.25,
                    help="seconds each thread runs per measurement (default 0.25)")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--plot", help="write one PNG per family into this folder")
    args = ap.parse_args()
    ks = tuple(int(x) for x in args.threads.split(",")) if args.threads else _threads_default()
    from run import machine  # the same machine line as bench/run.py

    head = f"{interpreter()} | {machine()} | {datetime.date.today()} | {_load()}"
    lines = [f"# Scaling: {head}", ""]
    cols = " | ".join(f"{k}T" for k in ks)
    results = []
    fam = None
    for case in cases():
        if args.only and case.family not in args.only:
            continue
        if case.family != fam:
            fam = case.family
            lines += ["", f"## {fam}", "", f"| workload | implementation | {cols} |",
                      "|---|---|" + "---:|" * len(ks)]
            print("\n".join(lines[-5:]), flush=True)
        shared = case.shared()
        if args.quick:
            case.number = max(500, case.number // 20)
        else:
            # Each thread runs for at least --min-time seconds: a run of a few
            # ms measures thread start-up skew, not throughput. Calibrated
            # once per row from a run at the smallest thread count allowed.
            k0 = 2 if case.pairs else 1
            rate = _run_threads(case, k0, shared) / k0  # Mops/s per thread
            case.number = max(case.number, int(rate * 1e6 * args.min_time))
        gc.collect()  # no collection (stop-the-world on 3.13t) left over from earlier rows
        mops = {}
        for k in ks:
            if case.pairs and k % 2:
                mops[f"{k}T"] = float("nan")  # producer/consumer pairs need even counts
                continue
            mops[f"{k}T"] = case.per_op * max(
                _run_threads(case, k, shared) for _ in range(max(1, args.repeat)))
        results.append({"family": case.family, "name": case.name, "impl": case.impl,
                        "mops": {k: (None if v != v else v) for k, v in mops.items()}})
        row = f"| {case.name} | {case.impl} | " + " | ".join(
            "-" if mops[f"{k}T"] != mops[f"{k}T"] else f"{mops[f'{k}T']:.2f}" for k in ks) + " |"
        lines.append(row)
        print(row, flush=True)
    meta = {"interpreter": interpreter(), "machine": machine(), "load": _load(),
            "date": datetime.date.today().isoformat(), "threads": list(ks)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write("\n".join(lines) + "\n")
    if args.plot:
        _plot(results, meta, args.plot)
    return 0


def _plot(results: list, meta: dict, folder: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots", file=sys.stderr)
        return
    os.makedirs(folder, exist_ok=True)
    ks = meta["threads"]
    tag = "3.13t" if "GIL off" in meta["interpreter"] else "gil"
    for fam in dict.fromkeys(r["family"] for r in results):
        rows = [r for r in results if r["family"] == fam]
        names = list(dict.fromkeys(r["name"] for r in rows))
        fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
        for ax, name in zip(axes[0], names):
            for r in rows:
                if r["name"] == name:
                    ys = [r["mops"][f"{k}T"] for k in ks]
                    ax.plot(ks, [float("nan") if y is None else y for y in ys], marker="o",
                            label=r["impl"])
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("threads")
            ax.set_ylabel("Mops/s (aggregate)")
            ax.set_xticks(ks)
            ax.legend(fontsize=7)
        fig.suptitle(f"{fam} scaling - {meta['interpreter']} - {meta['machine']}", fontsize=9)
        fig.tight_layout()
        out = os.path.join(folder, f"scaling-{fam}-{tag}.png")
        fig.savefig(out, dpi=90)
        plt.close(fig)
        print("wrote", out)


if __name__ == "__main__":
    raise SystemExit(main())
