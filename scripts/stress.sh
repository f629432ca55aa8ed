#!/usr/bin/env bash
# Stress every primitive under 8-16 threads with invariant checks
# (tests/stress/stress.py) on the GIL interpreter, on free-threaded 3.13t
# with the GIL disabled, and on PyPy where setup provided it:
#   bash scripts/stress.sh [minutes] [stress.py args...]   # default 1 minute each
# FTKIT_STRESS_SECONDS (seconds per interpreter) overrides minutes; CI's
# stage 8 of scripts/test.sh sets it low. FTKIT_STRESS_THREADS (default 16).
# Every interpreter runs even if one fails; the exit status is non-zero if
# any found a violation, hung, or ran far past its budget.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
minutes=${1:-1}
[ $# -gt 0 ] && shift
seconds=${FTKIT_STRESS_SECONDS:-$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')}
case $seconds in '' | *[!0-9]* | 0) echo "stress.sh: bad budget '$seconds' s" >&2; exit 2 ;; esac
threads=${FTKIT_STRESS_THREADS:-16}

lib=${FTKIT_LIBRARY:-}
if [ ! -f build/env.sh ]; then
    bash scripts/setup.sh || { echo "setup failed"; exit 1; }
fi
# shellcheck disable=SC1091
. build/env.sh
[ -n "$lib" ] && export FTKIT_LIBRARY="$lib"  # a library chosen by the caller wins

# checks and thread joins come on top of the budget; a run past this is a hang
limit=$((seconds * 2 + 120))
args=(tests/stress/stress.py --seconds "$seconds" --threads "$threads" "$@")
failed=0

echo "== stress: GIL interpreter ($FTKIT_PY), $seconds s"
timeout -k 10 "$limit" "$FTKIT_PY" "${args[@]}" || { echo "== stress FAILED on the GIL interpreter (exit $?)"; failed=1; }

echo "== stress: free-threaded 3.13t, GIL disabled ($FTKIT_FT_PY), $seconds s"
if ! PYTHON_GIL=0 "$FTKIT_FT_PY" -X gil=0 -c 'import sys; sys.exit(sys._is_gil_enabled())'; then
    echo "== stress FAILED: $FTKIT_FT_PY does not run with the GIL disabled"; failed=1
else
    PYTHON_GIL=0 timeout -k 10 "$limit" "$FTKIT_FT_PY" -X gil=0 "${args[@]}" ||
        { echo "== stress FAILED on free-threaded 3.13t (exit $?)"; failed=1; }
fi

if [ -n "${FTKIT_PYPY:-}" ] && [ -x "$FTKIT_PYPY" ]; then
    echo "== stress: PyPy ($FTKIT_PYPY), $seconds s"
    timeout -k 10 "$limit" "$FTKIT_PYPY" "${args[@]}" || { echo "== stress FAILED on PyPy (exit $?)"; failed=1; }
fi
exit $failed
