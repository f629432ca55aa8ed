#!/usr/bin/env bash
# Fuzz the C API with libFuzzer under ASan+UBSan: two harnesses,
# tests/fuzz/fuzz_api.c (atomics, queue, map, slots) and
# tests/fuzz/fuzz_mods.c (deque, counter, rwlock/ilock, batch, sem, gather).
#
#   bash scripts/fuzz.sh [seconds]      default 60 in all; FTKIT_FUZZ_SECONDS overrides
#   FTKIT_FUZZ_HARNESS=api|mods         run only one (it gets all the seconds);
#                                       by default each gets half
#   FTKIT_FUZZ_ARGS="-seed=1 -print_coverage=1"   extra libFuzzer flags
#
# Installs clang and its sanitizer/fuzzer runtime from Debian if no clang can
# link -fsanitize=fuzzer, builds libftkit's sources and each harness into
# build-fuzz/, and runs it for its time on a copy of its seed corpus
# (tests/fuzz/corpus for fuzz_api, tests/fuzz/corpus_mods for fuzz_mods;
# they are never written). Prints the executions and their rate.
# Exits non-zero on any finding: a crash, sanitizer report, leak, hang
# (-timeout) or model mismatch; the reproducer is left in build-fuzz/.
# Reproduce one: build-fuzz/fuzz_api build-fuzz/artifacts/crash-<sha1>
# (or build-fuzz/fuzz_mods build-fuzz/artifacts-mods/crash-<sha1>;
# FUZZ_TRACE=1 prints its ops; a failure prints the last ones anyway).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${FTKIT_FUZZ_SECONDS:-${1:-60}}
OUT=build-fuzz
log() { printf '== fuzz: %s\n' "$*" >&2; }

# A clang whose driver can link libFuzzer (its runtime is a separate Debian
# package, libclang-rt-<N>-dev, on bookworm and later).
probe() {
    local cc=$1
    command -v "$cc" >/dev/null 2>&1 || return 1
    local out
    out=$(mktemp) || return 1
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
        "$cc" -x c -fsanitize=fuzzer,address,undefined -o "$out" - >/dev/null 2>&1
    local ok=$?
    rm -f "$out"
    return $ok
}
find_cc() {
    local cc
    for cc in ${FTKIT_FUZZ_CC:-} clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
        if probe "$cc"; then echo "$cc"; return 0; fi
    done
    return 1
}

if ! CC=$(find_cc); then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    log "installing clang and its fuzzer runtime from Debian"
    $SUDO apt-get update -qq >&2
    ver=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1)
    pkgs=(clang)
    if [ -n "$ver" ] && apt-cache show "libclang-rt-$ver-dev" >/dev/null 2>&1; then
        pkgs+=("libclang-rt-$ver-dev")
    elif apt-cache show libclang-rt-dev >/dev/null 2>&1; then
        pkgs+=(libclang-rt-dev)
    fi
    $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
    CC=$(find_cc) || { log "no clang that links -fsanitize=fuzzer after installing ${pkgs[*]}"; exit 1; }
fi
log "compiler: $CC ($("$CC" --version | head -n1))"

mkdir -p "$OUT"
# One translation unit per source, linked with the harness: the library's
# hidden symbols do not matter in a static link.
SRCS=(c/src/*.c)
FLAGS=(-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -DFTKIT_BUILDING
       -Ic/include -Ic/src -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)

# run_one NAME CORPUS SECONDS SUFFIX: build build-fuzz/NAME from tests/fuzz/NAME.c
# and run it; its corpus copy, artifacts and log are build-fuzz/corpus[-mods],
# artifacts[-mods], fuzz[-mods].log (fuzz.log for fuzz_api, as before).
failed=0
run_one() {
    local name=$1 seeds=$2 secs=$3 sfx=$4
    local bin=$OUT/$name corpus=$OUT/corpus$sfx art=$OUT/artifacts$sfx
    local logf=$OUT/fuzz$sfx.log
    log "building $bin"
    "$CC" "${FLAGS[@]}" -o "$bin" "${SRCS[@]}" "tests/fuzz/$name.c" -lpthread

    # Work on a copy of the corpus: new inputs go to build-fuzz/ only.
    rm -rf "$corpus"
    mkdir -p "$corpus" "$art"
    cp "$seeds"/* "$corpus/"
    rm -f "$art"/*

    log "running $name for ${secs} s on $(ls "$corpus" | wc -l) seed inputs"
    set +e
    # -timeout: one input may not run longer (a hang is a finding);
    # -rss_limit_mb: the harness's own tables are small, the library's must be too.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$art/" ${FTKIT_FUZZ_ARGS:-} \
        "$corpus" >"$logf" 2>&1
    local rc=$?
    set -e

    # Summary: the final stats (executions, rate, coverage).
    local execs rate last
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -n1)
    last=$(grep -E '^#[0-9]+' "$logf" | tail -n1 || true)
    echo "fuzz $name: ${execs:-?} executions in ${secs} s (${rate:-?} exec/s); last status: ${last:-none}"
    if [ $rc -ne 0 ] || ls "$art"/* >/dev/null 2>&1; then
        echo "fuzz $name: FINDING (exit $rc); log tail:"
        tail -n 60 "$logf"
        ls -l "$art"/ 2>/dev/null || true
        echo "reproduce: $bin <artifact>"
        failed=1
    fi
}

case "${FTKIT_FUZZ_HARNESS:-all}" in
    api) run_one fuzz_api tests/fuzz/corpus "$SECS" "" ;;
    mods) run_one fuzz_mods tests/fuzz/corpus_mods "$SECS" -mods ;;
    all)
        half=$(( (SECS + 1) / 2 ))
        run_one fuzz_api tests/fuzz/corpus "$half" ""
        run_one fuzz_mods tests/fuzz/corpus_mods "$half" -mods
        ;;
    *) log "FTKIT_FUZZ_HARNESS must be api, mods or all"; exit 2 ;;
esac
if [ $failed -ne 0 ]; then
    exit 1
fi
echo "fuzz: no findings"
