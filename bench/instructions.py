#!/usr/bin/env python3
"""Instructions per statement, counted by callgrind: the noise-free cost measure.

    python bench/instructions.py SETUP STMT [--n N]

Runs ``valgrind --tool=callgrind`` on this interpreter twice, executing STMT
(``;;`` separates lines) N and 3N times in a function after SETUP, and prints
the difference divided by 2N: interpreter start-up and SETUP cancel out. Set
PYTHON_GIL=0 / ``-X gil=0`` yourself for the free-threaded build (this script
passes ``-X gil=0`` when the running interpreter has the GIL disabled); the
hash seed is fixed so dict layouts repeat. The figures quoted as
"callgrind, instructions" in docs/performance.md come from this method.

Example (3.13t, a dict view's get against the bare lookup):

    PYTHON_GIL=0 python3.13t -X gil=0 bench/instructions.py \\
        "import ftkit; d = ftkit.ConcurrentDict({k: k for k in range(1024)}); v = d.local()" \\
        "v.get(5)"
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def count(setup: str, stmt: str, k: int) -> int:
    body = "".join(f"        {line}\n" for line in stmt.split(";;"))
    code = f"{setup}\ndef _f():\n    for _ in range({k}):\n{body}_f()\n"
    args = [sys.executable]
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        args += ["-X", "gil=0"]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        *args, "-c", code], check=True, capture_output=True,
                       env=dict(os.environ, PYTHONHASHSEED="0"))
        with open(out) as f:
            m = re.search(r"^summary: (\d+)", f.read(), re.M)
        assert m, "no callgrind summary"
        return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("setup")
    ap.add_argument("stmt")
    ap.add_argument("--n", type=int, default=2000)
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    lo, hi = count(a.setup, a.stmt, a.n), count(a.setup, a.stmt, 3 * a.n)
    print(f"{(hi - lo) / (2 * a.n):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
