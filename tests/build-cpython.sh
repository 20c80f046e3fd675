#!/bin/bash
# build-cpython.sh: builds the CPython 3.13 that the interpreter tests need,
# from Debian trixie's python3.13 source package, free-threaded
# (--disable-gil) with an exec_prefix apart from its prefix, and caches it as
# the distro roots are cached. Prints the install folder (PREFIX=… and
# EXEC_PREFIX=… beneath it, facts in build-info) on its last line.
#
# One build covers both interpreters of the user's notes: abiflags "t"
# (lib/python3.13t/) and a split exec_prefix (bin/, lib-dynload and
# libpython under EXEC_PREFIX; the stdlib under PREFIX).
#
# The source comes through apt with a temporary sources list (a trixie deb-src
# line; the host's apt configuration is not changed). Debian's patches are
# not applied: they adapt the tree to Debian's own layout (dist-packages,
# multiarch), and the interpreters in the notes are source builds.
# No PGO/LTO: a plain build takes minutes on two cores.
#
# Usage: tests/build-cpython.sh   (PYFARM_TEST_CACHE overrides the cache,
# PYFARM_DEBIAN_MIRROR the mirror, by default the one the host's apt sources name).
# Exit status 2: the source cannot be fetched here (the tests skip); 1: the
# build failed (the tests fail).
set -euo pipefail

SUITE=trixie
SRCPKG=python3.13
CACHE=${PYFARM_TEST_CACHE:-$HOME/.cache/pyfarm-tests}
# bump REV when the steps below change what gets built
REV=1
FLAGS="--disable-gil --enable-shared --without-ensurepip"
KEY=$(printf '%s\n' "$SUITE" "$SRCPKG" "$FLAGS" "$REV" | sha256sum | cut -c1-10)

mkdir -p "$CACHE"
exec 9>"$CACHE/.cpython-$KEY.lock"
flock 9

for done in "$CACHE"/cpython-*-"$KEY"/.complete; do
    if [ -e "$done" ]; then
        dirname "$done"
        exit 0
    fi
done

log() { echo "build-cpython: $*" >&2; }

# what the build needs from the host (only those missing are installed)
deps=(gcc make dpkg-dev pkg-config libssl-dev zlib1g-dev libffi-dev libsqlite3-dev libbz2-dev
    liblzma-dev uuid-dev libncurses-dev libreadline-dev)
. "$(dirname "$0")/apt-missing.sh"
apt_missing "${deps[@]}"

mirror=${PYFARM_DEBIAN_MIRROR:-$(cd "$(dirname "$0")/integration" && python3 -c \
    'import pyfarm_testlib as t; print(t.apt_mirror() or "")')}
if [ -z "$mirror" ]; then
    log "no Debian mirror in the host's apt sources: cannot fetch the $SUITE source"
    exit 2
fi

work="$CACHE/cpython-work-$KEY"
rm -rf "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $SUITE main" \
    >"$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=$work/apt/parts"
    -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)

t0=$(date +%s)
log "fetching the $SUITE source of $SRCPKG"
apt-get -q "${apt_opts[@]}" update >"$work/apt.log" 2>&1 || {
    log "apt-get update failed (see $work/apt.log)"
    exit 2
}
(cd "$work/src" && apt-get -q "${apt_opts[@]}" source --download-only "$SRCPKG") \
    >>"$work/apt.log" 2>&1 || {
    log "apt-get source failed (see $work/apt.log)"
    exit 2
}
dsc=$(ls "$work"/src/*.dsc)
debver=$(sed -n 's/^Version: //p' "$dsc")
upver=${debver%%-*}
dpkg-source -q -x --skip-patches "$dsc" "$work/src/tree" >>"$work/apt.log" 2>&1
t1=$(date +%s)

dest="$CACHE/cpython-$upver-$KEY"
rm -rf "$dest"
mkdir -p "$dest"
PREFIX="$dest/prefix"
EXEC_PREFIX="$dest/exec"
log "configuring $debver into $dest ($FLAGS)"
mkdir -p "$work/build"
cd "$work/build"
# libpython lives in EXEC_PREFIX/lib: the executable finds it by its RUNPATH
# shellcheck disable=SC2086
nice -n 10 "$work/src/tree/configure" --prefix="$PREFIX" --exec-prefix="$EXEC_PREFIX" $FLAGS \
    LDFLAGS="-Wl,-rpath,$EXEC_PREFIX/lib" >"$work/configure.log" 2>&1 || {
    log "configure failed (see $work/configure.log)"
    exit 1
}
t2=$(date +%s)
log "building (make -j2, nice)"
nice -n 10 make -j2 >"$work/make.log" 2>&1 || {
    log "make failed (see $work/make.log)"
    exit 1
}
nice -n 10 make install >"$work/install.log" 2>&1 || {
    log "make install failed (see $work/install.log)"
    exit 1
}
t3=$(date +%s)

py="$EXEC_PREFIX/bin/python3.13t"
"$py" -c 'import sys, sysconfig
assert "t" in sys.abiflags, sys.abiflags
assert not sys._is_gil_enabled()
assert sys.prefix != sys.exec_prefix
import _decimal, _sqlite3, _ssl, _ctypes, _multiprocessing' || {
    log "the installed interpreter is not what was asked"
    exit 1
}
{
    echo "debian_version=$debver"
    echo "configure=$FLAGS"
    echo "fetch_seconds=$((t1 - t0))"
    echo "configure_seconds=$((t2 - t1))"
    echo "build_seconds=$((t3 - t2))"
    echo "python=$py"
} >"$dest/build-info"
cp "$work/configure.log" "$dest/"
rm -rf "$work"
touch "$dest/.complete"
log "done in $((t3 - t0)) s"
echo "$dest"
