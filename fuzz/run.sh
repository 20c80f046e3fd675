#!/usr/bin/env bash
# Runs the libFuzzer harnesses: each for SECONDS (default 25) from the seed
# corpus in fuzz/corpus/NAME (copied: the repository's corpus is not
# changed), ASan+UBSan on. Exit status 1 if any harness found a crash, a
# leak, a timeout or a broken invariant; its reproducer is kept in OUT
# (default a temporary folder, printed) and named on stderr.
#   fuzz/run.sh [-t SECONDS] [-o OUT] [-k] [NAME...]
#   -k: keep the grown corpus in OUT/corpus/NAME (for fuzz/long-run.sh)
# FUZZ_SEED (default 1) fixes libFuzzer's random sequence, so that a run is
# repeatable up to where its time runs out.
# Names: elf_read elf_patch extents ldcache catalog ingest (default: all).
# Builds build-fuzz (CC=clang-14, -Dfuzz=true) when it is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=25 out="" keep=0
while getopts "t:o:k" o; do
  case $o in t) secs=$OPTARG ;; o) out=$OPTARG ;; k) keep=1 ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(elf_read elf_patch extents ldcache catalog ingest)
if [ ! -f build-fuzz/build.ninja ]; then
  CC=${CC_FUZZ:-clang-14} meson setup build-fuzz -Dfuzz=true -Dtests_integration=false >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || exit 1
[ -n "$out" ] || out=$(mktemp -d /tmp/pyfarm-fuzz-XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
fail=0
for n in "${names[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$n
  [ -x "$bin" ] || { echo "fuzz: no harness $n" >&2; exit 2; }
  work="$out/corpus/$n"
  mkdir -p "$work" "$out/artifacts/$n"
  cp -n fuzz/corpus/"$n"/* "$work"/ 2>/dev/null || true
  log="$out/$n.log"
  # detect_leaks: a leak on a bad input is a finding too; rss and time caps
  # turn runaway inputs into findings instead of a stuck CI
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    nice "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$n/" "$work" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  if [ $rc -ne 0 ]; then
    fail=1
    art=$(ls "$out/artifacts/$n"/* 2>/dev/null | head -1)
    echo "fuzz: $n: FOUND A PROBLEM after ${execs:-?} executions: ${art:-see $log}" >&2
    grep -E "ERROR|BROKEN|SUMMARY" "$log" | head -3 >&2
  else
    echo "fuzz: $n: ${execs:-?} executions in ${secs} s, 0 crashes"
  fi
  [ $keep -eq 1 ] || rm -rf "$work"
done
echo "fuzz: logs and reproducers in $out"
exit $fail
