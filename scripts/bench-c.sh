#!/usr/bin/env bash
# C benchmark suite: libftkit vs Concurrency Kit, liburcu and mutex baselines.
#
#   bash scripts/bench-c.sh [extra ftkit-bench-c options, e.g. --runs 5]
#
# Installs the peers (Debian: libck-dev liburcu-dev) if missing, builds a
# Release (-O2) libftkit plus the benchmark in build-bench-c/, runs it and
# writes bench/results/c-bench.md and bench/results/c-bench.json.
# Environment: BENCH_BUILD_DIR (default build-bench-c), BENCH_MAX_LOAD (wait
# up to BENCH_WAIT_S seconds, default 120, for the 1-minute load average to
# drop below it, default 1.5; the run goes on regardless and the load is
# recorded in the results).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BENCH_BUILD_DIR:-$root/build-bench-c}"
results="$root/bench/results"

need=()
for pkg in libck-dev liburcu-dev pkg-config cmake gcc; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "bench-c: installing ${need[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

cmake -S "$root/bench/c" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

max_load="${BENCH_MAX_LOAD:-1.5}"
wait_s="${BENCH_WAIT_S:-120}"
for ((i = 0; i < wait_s; i += 10)); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v l="$load" -v m="$max_load" 'BEGIN { exit !(l < m) }' && break
  echo "bench-c: load average $load >= $max_load, waiting ($i/$wait_s s)" >&2
  sleep 10
done

mkdir -p "$results"
"$build/ftkit-bench-c" --md "$results/c-bench.md" --json "$results/c-bench.json" "$@"
echo "bench-c: wrote $results/c-bench.md and $results/c-bench.json" >&2
