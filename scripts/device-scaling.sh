#!/usr/bin/env bash
# The many-core scaling run of issue 11, as one prepared command for a lent
# machine (device time is short: this runs in about 4-6 minutes on 16 cores).
#
#   bash ../shared/tools/device-lane.sh                  # here: packs .device-lane/
#   # then, through the device tool, with carry [".device-lane"]:
#   source .device-lane/env.sh && bash scripts/device-scaling.sh "$OUT"
#
# Writes into OUT (default bench/results/device): scaling-<cpus>c.md/.json
# (bench/scaling.py: every primitive, shared object vs views vs peers at
# 1, 2, 4 ... cpus threads) and contention-<cpus>c.md/.json
# (bench/contention.py: which shared part costs), plus the machine's lscpu.
# Needs FT_PY (from env.sh) or FTKIT_FT_PY; matplotlib is not needed (plot
# the JSON here afterwards: python bench/scaling.py's _plot, see
# docs/performance.md "Scaling with threads").
set -euo pipefail
out=${1:-bench/results/device}
py=${FT_PY:-${FTKIT_FT_PY:?set FT_PY (source .device-lane/env.sh) or FTKIT_FT_PY}}
mkdir -p "$out"
n=$(nproc)
threads=1
k=2
while [ "$k" -lt "$n" ]; do threads="$threads,$k"; k=$((k * 2)); done
[ "$n" -gt 1 ] && threads="$threads,$n"
export PYTHON_GIL=0
lscpu > "$out/lscpu.txt" 2>/dev/null || true
echo "== scaling on $n cpus: threads $threads" >&2
timeout 420 "$py" -X gil=0 bench/scaling.py --threads "$threads" --repeat 2 --min-time 0.2 \
    --json "$out/scaling-${n}c.json" --md "$out/scaling-${n}c.md"
echo "== contention on $n cpus" >&2
timeout 240 "$py" -X gil=0 bench/contention.py --threads "$threads" --repeat 2 \
    --json "$out/contention-${n}c.json" --md "$out/contention-${n}c.md"
echo "== wrote $out" >&2
