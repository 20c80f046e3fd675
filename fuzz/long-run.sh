#!/usr/bin/env bash
# The long run: every harness for HOURS (default 1) each, one after the
# other, under nice, growing its corpus in OUT/corpus/NAME (kept between
# runs: pass the same OUT to go on). Prints executions per harness and
# any reproducer found; a useful new input can then be minimized into the
# repository with
#   build-fuzz/fuzz/fuzz_NAME -merge=1 fuzz/corpus/NAME OUT/corpus/NAME
#   fuzz/long-run.sh [HOURS] [OUT] [NAME...]
set -uo pipefail
cd "$(dirname "$0")"
hours=${1:-1}
out=${2:-/tmp/pyfarm-fuzz-long}
shift $(( $# > 2 ? 2 : $# ))
exec ./run.sh -k -t "$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')" -o "$out" "$@"
