#!/usr/bin/env bash
# The whole test suite: set-up and build, lint, the C unit tests, the
# sanitizer build (ASan + UBSan) with its tests, then the integration suite
# (real venvs from PyPI, real loader, bwrap isolation, FUSE). Its last line
# is pytest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s ===\n' "$*"; }

step "set-up and build"
bash tests/setup.sh

step "lint: clang-format, cppcheck and clang-tidy"
srcs=$(ls lib/*.c analyzer/*.c fs/*.c tools/*.c)
clang-format --dry-run -Werror $srcs analyzer/*.h fs/*.h tools/*.h include/pyfarm/*.h tests/unit/*.c fuzz/*.c fuzz/*.h
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
  --inline-suppr -D_GNU_SOURCE -Iinclude $srcs
clang-tidy --quiet $srcs -- -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude \
  -I/usr/include/fuse3 2>/dev/null | tee /tmp/pyfarm-clang-tidy.log
if grep -qE "(warning|error):" /tmp/pyfarm-clang-tidy.log; then
  echo "clang-tidy reported findings" >&2
  exit 1
fi

step "sanitizer build (ASan + UBSan): C tests, resolver and pfmount suites"
[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined \
  -Db_lundef=false >/dev/null
ninja -C build-asan >/dev/null
ASAN_OPTIONS=detect_leaks=1 meson test -C build-asan --print-errorlogs

step "integration suite (sanitizer build)"
PYFARM_BUILD="$PWD/build-asan" ASAN_OPTIONS=detect_leaks=1 \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_dist.py \
  tests/integration/test_bad_input.py tests/integration/test_concurrency.py \
  tests/integration/test_hostile_export.py tests/integration/test_hostile_catalog.py -x

step "fuzzing: every libFuzzer harness for 25 s (fuzz/run.sh)"
fuzz_rc=0
bash fuzz/run.sh -t 25 || fuzz_rc=1  # reported after the suite, which runs anyway

step "integration suite"
PYFARM_BUILD="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
[ $fuzz_rc -eq 0 ] || { echo "fuzzing found problems (fuzz/run.sh output above)" >&2; exit 1; }
