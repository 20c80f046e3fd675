#!/usr/bin/env bash
# Set-up for a fresh Debian bookworm machine, as root: the packages the
# project and its tests need (only those missing), then the build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(meson ninja-build pkg-config gcc libc6-dev binutils libfuse3-dev fuse3 libelf-dev
      libzstd-dev libssl-dev libsqlite3-dev sqlite3 zstd bubblewrap debootstrap elfutils clang-tidy
      cppcheck clang-format clang-14 libclang-rt-14-dev xz-utils python3 python3-venv python3-pip
      python3-pytest python3-numpy python3-opencv python3-cryptography python3-certifi
      python3-joblib patchelf ca-certificates)
. tests/apt-missing.sh
apt_missing "${pkgs[@]}"
[ -e /dev/fuse ] || echo "setup: warning: /dev/fuse is missing; pfmount cannot mount here" >&2
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "setup: built pfanalyze, pfexport, pfmount in build/"
