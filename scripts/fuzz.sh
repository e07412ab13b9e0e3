#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang-14, ASan + UBSan, into build-fuzz/) and
# runs each for SECONDS (default 15) on a scratch copy of its committed seed corpus
# (tests/fuzz/corpus/<target>/), then prints executions and coverage per target. A crash, leak,
# timeout or sanitizer report fails the run; its input is kept under $OUT (default
# build-fuzz/findings/). FUZZ_TARGETS="fuzz_spec fuzz_watch" picks targets; MERGE=1 adds the
# inputs that found new coverage to the committed corpus (minimised by libFuzzer's -merge);
# FUZZ_BUILD=0 runs the targets already in build-fuzz/ as they are.
#
#   scripts/fuzz.sh            # CI: ~15 s a target
#   scripts/fuzz.sh 600        # ten minutes a target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
build=build-fuzz
out=${OUT:-$build/findings}
targets=${FUZZ_TARGETS:-"fuzz_spec fuzz_objects fuzz_text_values fuzz_traces fuzz_prometheus fuzz_watch fuzz_kubeconfig"}

if [ "${FUZZ_BUILD:-1}" != 0 ]; then
  # clang and its sanitizer runtimes only here, not in the image's builder (install-deps.sh).
  ./scripts/install-deps.sh clang-14 libclang-rt-14-dev >/dev/null
  echo "[fuzz] building the fuzz targets ($build)"
  [ -f "$build/CMakeCache.txt" ] || cmake --preset fuzz >/dev/null
  # Quiet when it builds; the failing commands and their errors when it does not.
  cmake --build --preset fuzz -j "${JOBS:-2}" >"$build/build.log" 2>&1 || {
    grep -E -B2 -A8 '^FAILED:|error:' "$build/build.log" | head -60 >&2
    echo "[fuzz] the fuzz build failed (whole log: $build/build.log)" >&2
    exit 1
  }
fi

mkdir -p "$out"
work=$(mktemp -d /tmp/pdscaler-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=0
printf '%-18s %6s %12s %9s %6s %7s %7s  %s\n' target secs executions exec/s cov features corpus result
for t in $targets; do
  seeds=tests/fuzz/corpus/$t
  mkdir -p "$work/$t"
  log=$out/$t.log
  rc=0
  "$build/bin/$t" "$work/$t" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$out/$t-" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see $log)"; failed=1; fi
  printf '%-18s %6s %12s %9s %6s %7s %7s  %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$result"
  if [ "$rc" -ne 0 ]; then grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -30 >&2 || true; fi
  if [ "${MERGE:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
    "$build/bin/$t" -merge=1 "$seeds" "$work/$t" -max_len=16384 >/dev/null 2>&1 || true
  fi
done
exit "$failed"
