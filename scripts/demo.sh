#!/usr/bin/env bash
# Set everything up, then run the demo (python -m ftkit) on the GIL
# interpreter and on free-threaded 3.13t with the GIL disabled.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
. "$ROOT/build/env.sh"
echo "### free-threaded CPython, GIL disabled"
"$FTKIT_FT_PY" -X gil=0 -m ftkit "$@"
echo
echo "### GIL CPython"
"$FTKIT_PY" -m ftkit "$@"
echo
echo "### to run it again (from $ROOT):"
echo '  . build/env.sh && "$FTKIT_FT_PY" -X gil=0 -m ftkit    # free-threaded 3.13t, GIL disabled'
echo '  . build/env.sh && "$FTKIT_PY" -m ftkit                 # GIL CPython'
