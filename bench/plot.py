#!/usr/bin/env python3
"""Plot benchmark JSON (from bench/run.py) as PNG: throughput per thread count.

One figure per family; one panel per workload; a group of bars per
implementation (1 thread, 2 threads, or producer+consumer), per interpreter.
"""
from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("--out", default="docs/img")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for path in args.json:
        data = json.load(open(path))
        interp = data["meta"]["interpreter"]
        tag = os.path.splitext(os.path.basename(path))[0]
        fams: dict = defaultdict(lambda: defaultdict(list))
        for r in data["results"]:
            fams[r["family"]][r["name"]].append(r)
        for fam, workloads in fams.items():
            names = list(workloads)
            fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 + 1.6 * len(names)),
                                     squeeze=False)
            for ax, name in zip(axes[:, 0], names):
                rows = workloads[name]
                keys = sorted({k for r in rows for k in r["mops"]})
                width = 0.8 / max(1, len(keys))
                for j, k in enumerate(keys):
                    ys = [r["mops"].get(k, 0) for r in rows]
                    xs = [i + j * width for i in range(len(rows))]
                    ax.barh(xs, ys, height=width, label=k)
                ax.set_yticks([i + width * (len(keys) - 1) / 2 for i in range(len(rows))])
                ax.set_yticklabels([r["impl"] for r in rows], fontsize=8)
                ax.set_title(name, fontsize=9)
                ax.set_xlabel("Mops/s (higher is better)", fontsize=8)
                ax.legend(fontsize=7, loc="lower right")
            fig.suptitle(f"{fam} - {interp}", fontsize=10)
            fig.tight_layout()
            out = os.path.join(args.out, f"bench-{fam}-{tag}.png")
            fig.savefig(out, dpi=90)
            plt.close(fig)
            print("wrote", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
