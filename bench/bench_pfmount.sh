#!/bin/bash
# bench_pfmount.sh: pfmount against the disk, printed side by side (a
# benchmark, not a test; needs root for drop_caches and FUSE).
#
#   bench/bench_pfmount.sh [CATALOG]
#
# Without CATALOG, tests/mkcatalog mirrors BENCH_SRC (default Debian's
# dist-packages) into a temporary catalog. Measures: sequential read of the
# catalog's largest file through the mount and from its source, cold (after
# drop_caches) and warm; the same with the kernel's default readahead; app
# start-up cases (see "App start-up" below: add a case per app); pfmount's
# peak RSS (VmHWM).
#
# Env: PYFARM_BUILD (default build/ of this checkout), BENCH_SRC, BENCH_RUNS (warm
# repetitions, default 3).
set -euo pipefail

BUILD=${PYFARM_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
PFMOUNT=$BUILD/fs/pfmount
MKCATALOG=$BUILD/tests/mkcatalog
RUNS=${BENCH_RUNS:-3}
WORK=$(mktemp -d /tmp/bench_pfmount.XXXXXX)
MNT=$WORK/mnt
PID=

cleanup() {
    if grep -q " $MNT " /proc/mounts; then fusermount3 -u -z "$MNT" || true; fi
    [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
# secs START END
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# mount [OPTIONS...]: pfmount in the foreground, in the background of this
# shell, so that $PID is pfmount itself (for VmHWM).
mount_it() {
    mkdir -p "$MNT"
    "$PFMOUNT" "$CATALOG" "$MNT" -f "$@" 2>>"$WORK/pfmount.log" &
    PID=$!
    for _ in $(seq 200); do
        grep -q " $MNT " /proc/mounts && return 0
        sleep 0.02
    done
    echo "pfmount did not mount; log:" >&2
    cat "$WORK/pfmount.log" >&2
    exit 1
}

unmount_it() {
    fusermount3 -u "$MNT"
    wait "$PID" || true
    PID=
}

# read_mbs FILE [BS]: MB/s of one sequential read (default 1 MiB requests).
read_mbs() {
    local size t0 t1
    size=$(stat -L -c %s "$1")
    t0=$(now)
    dd if="$1" of=/dev/null bs="${2:-1M}" status=none
    t1=$(now)
    awk -v s="$size" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", s / 1048576 / (b - a) }'
}

# warm_mbs FILE: best of RUNS warm reads.
warm_mbs() {
    local best=0 r
    for _ in $(seq "$RUNS"); do
        r=$(read_mbs "$1")
        [ "$r" -gt "$best" ] && best=$r
    done
    echo "$best"
}

# startup LABEL CMD...: cold (after drop_caches) and best-of-RUNS warm wall
# time of a command, which must succeed.
startup() {
    local label=$1 t0 t1 cold warm best=
    shift
    drop
    t0=$(now)
    "$@" >/dev/null 2>&1
    t1=$(now)
    cold=$(secs "$t0" "$t1")
    for _ in $(seq "$RUNS"); do
        t0=$(now)
        "$@" >/dev/null 2>&1
        t1=$(now)
        warm=$(secs "$t0" "$t1")
        if [ -z "$best" ] || awk -v a="$warm" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$warm
        fi
    done
    printf "  %-44s cold %7ss   warm %7ss\n" "$label" "$cold" "$best"
}

[ "$(id -u)" = 0 ] || { echo "bench_pfmount.sh: needs root (drop_caches, FUSE)" >&2; exit 1; }
if [ $# -ge 1 ]; then
    CATALOG=$(realpath "$1")
    SRC=
else
    SRC=${BENCH_SRC:-/usr/lib/python3/dist-packages}
    CATALOG=$WORK/bench.db
    echo "catalog: mirroring $SRC"
    "$MKCATALOG" "$CATALOG" "$SRC"
fi

read -r REL SOURCE SIZE < <(sqlite3 -separator ' ' "file:$CATALOG?mode=ro" \
    "SELECT path, source, size FROM tree WHERE type='f' AND source IS NOT NULL AND patch IS NULL
     ORDER BY size DESC LIMIT 1")
echo "largest file: $REL ($((SIZE / 1048576)) MiB), source $SOURCE"
echo

echo "Sequential read (MB/s, dd bs=1M)            disk     pfmount"
mount_it
drop
disk_cold=$(read_mbs "$SOURCE")
drop
mnt_cold=$(read_mbs "$MNT/$REL")
disk_warm=$(warm_mbs "$SOURCE")
mnt_warm=$(warm_mbs "$MNT/$REL")
printf "  %-40s %7s  %7s\n" "cold (after drop_caches)" "$disk_cold" "$mnt_cold"
printf "  %-40s %7s  %7s\n" "warm (page cache)" "$disk_warm" "$mnt_warm"
# small reads (cat, the loader) lean on readahead: pfmount's 1 MiB window
# against the kernel's default 128 KiB
drop
disk_small=$(read_mbs "$SOURCE" 64K)
drop
mnt_small=$(read_mbs "$MNT/$REL" 64K)
printf "  %-40s %7s  %7s\n" "cold, 64 KiB reads" "$disk_small" "$mnt_small"
unmount_it
mount_it -o readahead=0
drop
ra_small=$(read_mbs "$MNT/$REL" 64K)
printf "  %-40s %7s  %7s\n" "cold, 64 KiB reads, -o readahead=0" "-" "$ra_small"
unmount_it
echo

echo "App start-up (s)"
mount_it
# Add one pair (or triple: exported folder, source venv) per app, e.g.
#   startup "numpy app, mount"    "$MNT/run.sh"
#   startup "numpy app, exported" "$EXPORTED/run.sh"
#   startup "numpy app, venv"     /path/to/venv/bin/python app.py
if [ -n "$SRC" ] && [ -d "$MNT/numpy" ] && [ -x /usr/bin/python3 ]; then
    startup "import numpy (Debian), from the mount" \
        env PYTHONPATH="$MNT" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -S -c "import numpy"
    startup "import numpy (Debian), from $SRC" \
        env PYTHONPATH="$SRC" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -S -c "import numpy"
fi
if [ -n "$SRC" ] && [ -e "$MNT/cv2.cpython-311-x86_64-linux-gnu.so" ] && [ -x /usr/bin/python3 ]; then
    startup "import cv2 (Debian), from the mount" \
        env PYTHONPATH="$MNT" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -S -c "import cv2"
    startup "import cv2 (Debian), from $SRC" \
        env PYTHONPATH="$SRC" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -S -c "import cv2"
fi
echo
echo "pfmount peak RSS (VmHWM): $(awk '/VmHWM/ { print $2, $3 }' "/proc/$PID/status")"
unmount_it
if [ -s "$WORK/pfmount.log" ]; then
    echo "pfmount log:"
    cat "$WORK/pfmount.log"
fi
