#!/usr/bin/env bash
# Set everything up, then run every test:
#   1. C unit tests (Check via ctest)           4. C tests under ASan+UBSan
#   2. pytest on the GIL interpreter            5. C tests under TSan
#   3. pytest on 3.13t with the GIL disabled    6. packaging: wheel + C consumers
#   7. C API fuzzing (libFuzzer, 60 s; scripts/fuzz.sh; FTKIT_FUZZ_SECONDS)
#   8. stress, every interpreter (3.11, 3.13t, PyPy), short (scripts/stress.sh; FTKIT_STRESS_SECONDS, default 20)
#   9. PyPy: the wheel installed with no compiler, then the demo and pytest on it
# Each stage runs even if an earlier one failed; the exit status is non-zero
# if any failed. Set FTKIT_STAGES="1 2 3" to run a subset.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh || { echo "setup failed"; exit 1; }
# shellcheck disable=SC1091
. build/env.sh
STAGES=${FTKIT_STAGES:-"1 2 3 4 5 6 7 8 9"}
JOBS=${FTKIT_JOBS:-2}
GEN=(); command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
passed=0; failed=0; failures=()

stage() {  # stage NAME COMMAND...
    local name=$1; shift
    echo; echo "######## $name"
    local t0=$SECONDS
    if "$@"; then
        passed=$((passed + 1)); echo "######## $name: ok ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1)); failures+=("$name"); echo "######## $name: FAILED ($((SECONDS - t0)) s)"
    fi
}

c_tests() {  # c_tests BUILD_DIR [cmake args]
    local dir=$1; shift
    cmake -S . -B "$dir" "${GEN[@]}" -DFTKIT_BUILD_TESTS=ON "$@" >/dev/null && cmake --build "$dir" &&
        ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$JOBS"
}

binding_fresh() { "$FTKIT_PY" scripts/gen_cdef.py --check; }

pytest_gil() { binding_fresh && "$FTKIT_PY" -m pytest -q tests/python; }

pytest_ft() {
    PYTHON_GIL=0 FTKIT_EXPECT_FREE_THREADED=1 "$FTKIT_FT_PY" -X gil=0 -m pytest -q -p no:cacheprovider tests/python
}

pypy_lane() {  # the same wheel as stage 6, installed into the PyPy venv with no compiler
    local d rc=1
    d=$(mktemp -d) || return 1
    if "$FTKIT_PY" -m pip wheel --no-build-isolation --no-deps -q -w "$d" . &&
        env -u FTKIT_LIBRARY -u PYTHONPATH PATH="$(dirname "$FTKIT_PYPY")" CC=false CXX=false \
            "$FTKIT_PYPY" -m pip install -q --no-index --no-deps --force-reinstall "$d"/ftkit-*.whl &&
        (cd "$d" && env -u FTKIT_LIBRARY -u PYTHONPATH "$FTKIT_PYPY" -c \
            'import ftkit, sys; assert ftkit.library_path.startswith(sys.prefix), ftkit.library_path' &&
            env -u FTKIT_LIBRARY -u PYTHONPATH "$FTKIT_PYPY" -m ftkit) &&
        env -u FTKIT_LIBRARY -u PYTHONPATH "$FTKIT_PYPY" -m pytest -q -p no:cacheprovider tests/python
    then rc=0; fi
    rm -rf "$d"
    return $rc
}

for s in $STAGES; do
    case $s in
        1) stage "C unit tests (ctest)" c_tests build ;;
        2) stage "pytest, GIL CPython" pytest_gil ;;
        3) stage "pytest, free-threaded 3.13t, GIL disabled" pytest_ft ;;
        4) stage "C unit tests, ASan+UBSan" c_tests build-asan -DFTKIT_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug ;;
        5) stage "C unit tests, TSan" c_tests build-tsan -DFTKIT_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
        6) stage "packaging: wheel in both interpreters, C consumers" \
               "$FTKIT_PY" -m pytest -q -p no:cacheprovider tests/packaging ;;
        7) stage "C API fuzzing (libFuzzer, 60 s)" bash scripts/fuzz.sh 60 ;;
        8) stage "stress, every interpreter (short)" \
               env FTKIT_STRESS_SECONDS="${FTKIT_STRESS_SECONDS:-20}" bash scripts/stress.sh ;;
        9) stage "PyPy: wheel without a compiler, demo + pytest" pypy_lane ;;
    esac
done

echo
for f in "${failures[@]}"; do echo "FAILED stage: $f"; done
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
