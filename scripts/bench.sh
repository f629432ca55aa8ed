#!/usr/bin/env bash
# Set up, install the peers, run every benchmark, write tables and plots.
#
#   scripts/bench.sh            # Python suites on both interpreters + C suite
#   FTKIT_BENCH_QUICK=1 scripts/bench.sh   # a fast smoke run
#
# Peers are installed into benchmark-only virtual environments under build/
# (never into the interpreters the tests use): ft_utils and cereggii from the
# package index, built from their sdists when no wheel fits; a peer that
# cannot be installed on an interpreter is skipped and reported. Results go
# to bench/results/ (JSON + markdown) and docs/img/ (PNG plots).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh || exit 1
# shellcheck disable=SC1091
. build/env.sh
mkdir -p bench/results docs/img
QUICK=()
[ "${FTKIT_BENCH_QUICK:-0}" = "1" ] && QUICK=(--quick)

venv() {  # venv NAME PYTHON -> prints the venv's python
    local dir="build/bench-$1"
    [ -x "$dir/bin/python" ] || "$2" -m venv --system-site-packages "$dir" >&2
    echo "$dir/bin/python"
}

try_peer() {  # try_peer PYTHON NAME PIP-ARGS...
    local py=$1 name=$2; shift 2
    if "$py" -c "import $name" 2>/dev/null; then return 0; fi
    if "$py" -m pip install -q --disable-pip-version-check "$@" >"build/bench-peer-$name.log" 2>&1 \
        && "$py" -c "import $name" 2>/dev/null; then
        echo "peer $name: installed for $("$py" -c 'import sys; print(sys.version.split()[0])')"
    else
        echo "peer $name: NOT installable for $py (see build/bench-peer-$name.log); skipped"
    fi
}

GIL_PY=$(venv gil "$FTKIT_PY")
FT_PY=$(venv ft "$FTKIT_FT_PY")
# ft_utils publishes no wheel for 3.11 (needs 3.12+) or 3.13t: the sdist builds for 3.13t.
try_peer "$GIL_PY" ft_utils ft_utils
try_peer "$FT_PY" ft_utils --no-binary ft_utils ft_utils
try_peer "$GIL_PY" cereggii cereggii
try_peer "$FT_PY" cereggii cereggii
"$GIL_PY" -c 'import matplotlib' 2>/dev/null || "$GIL_PY" -m pip install -q matplotlib >&2

"$FT_PY" -X gil=0 bench/run.py "${QUICK[@]}" --json bench/results/py-3.13t.json \
    | tee bench/results/py-3.13t.md
"$GIL_PY" bench/run.py "${QUICK[@]}" --json bench/results/py-3.11.json \
    | tee bench/results/py-3.11.md
"$GIL_PY" bench/plot.py bench/results/py-3.13t.json bench/results/py-3.11.json --out docs/img
if [ -f scripts/bench-c.sh ]; then
    bash scripts/bench-c.sh
fi
echo "results: bench/results/, plots: docs/img/"
