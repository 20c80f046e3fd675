#!/usr/bin/env bash
# The demo: set up, trace the example app in a pinned venv, export the dist,
# run it where neither the venv nor its interpreter can be seen (bwrap), run
# it from a pfmount mount the same way, export a .tar.zst, and a hermetic
# dist in an empty root. Outputs go to examples/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
B=$PWD/build
OUT=$PWD/examples/out
rm -rf "$OUT" && mkdir -p "$OUT"
PY=${PYENV_ROOT:-$HOME/.pyenv}/versions/3.11.7/bin/python3.11
[ -x "$PY" ] || PY=/usr/bin/python3
VENV=${PYFARM_DEMO_VENV:-$HOME/.cache/pyfarm-demo/venv}
if [ ! -x "$VENV/bin/python" ] || [ -e "$VENV/.partial" ]; then
  rm -rf "$VENV"; mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV" && touch "$VENV/.partial"
  "$VENV/bin/pip" install -q --disable-pip-version-check numpy==1.26.4 \
    opencv-python-headless==4.9.0.80 certifi==2024.2.2
  rm "$VENV/.partial"
fi
say() { printf '\n--- %s\n' "$*"; }
isolated() { # only the dist, the host's glibc and /bin/sh
  local dist=$1; shift
  local L=/usr/lib/x86_64-linux-gnu binds=()
  for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1; do
    [ -e "$L/$f" ] && binds+=(--ro-bind "$L/$f" "$L/$f")
  done
  bwrap --clearenv --setenv PATH /usr/bin:/bin --setenv HOME /tmp --ro-bind "$dist" /dist \
    "${binds[@]}" --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
    --ro-bind /lib64/ld-linux-x86-64.so.2 /usr/lib64/ld-linux-x86-64.so.2 \
    --ro-bind /bin/dash /bin/sh --proc /proc --dev /dev --tmpfs /tmp "$@"
}

say "the app in its venv"
"$VENV/bin/python" examples/demoapp/app.py hello | tee "$OUT/original.txt"
say "pfanalyze: trace and analyze (host glibc mode)"
"$B/analyzer/pfanalyze" -c "$OUT/demo.db" --glibc host -- "$VENV/bin/python" examples/demoapp/app.py hello >/dev/null
say "pfexport to a folder, run it isolated (no venv, no Python on the host side)"
"$B/tools/pfexport" "$OUT/demo.db" "$OUT/dist"
isolated "$OUT/dist" /dist/run.sh hello | tee "$OUT/dist.txt"
cmp "$OUT/original.txt" "$OUT/dist.txt" && echo "same output as the original run"
"$B/tools/pfwhy" "$OUT/demo.db" "$(cd "$OUT/dist" && ls -d site-packages/*/opencv_python_headless.libs/libavcodec* | head -1)"
if [ -e /dev/fuse ]; then
  say "pfmount: run the app straight from the catalog"
  mkdir -p "$OUT/mnt"
  "$B/fs/pfmount" "$OUT/demo.db" "$OUT/mnt"
  trap 'fusermount3 -u "$OUT/mnt" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do mountpoint -q "$OUT/mnt" && break; sleep 0.1; done
  isolated "$OUT/mnt" /dist/run.sh hello | tee "$OUT/mount.txt"
  cmp "$OUT/original.txt" "$OUT/mount.txt" && echo "same output from the mount"
  fusermount3 -u "$OUT/mnt"; trap - EXIT
fi
say "pfexport to a .tar.zst"
"$B/tools/pfexport" "$OUT/demo.db" "$OUT/demo.tar.zst"
say "hermetic dist (--glibc bundle, the default) in an empty root: no /lib, no /bin/sh"
"$B/analyzer/pfanalyze" -q -c "$OUT/hermetic.db" -- "$VENV/bin/python" \
  examples/demoapp/app.py hello >/dev/null
"$B/tools/pfexport" "$OUT/hermetic.db" "$OUT/hermetic"
bwrap --clearenv --setenv HOME /tmp --ro-bind "$OUT/hermetic" /dist --proc /proc --dev /dev \
  --tmpfs /tmp /dist/run hello | tee "$OUT/hermetic.txt"
cmp "$OUT/original.txt" "$OUT/hermetic.txt" && echo "same output in an empty root"
say "sizes"
du -sh "$OUT/dist" "$OUT/hermetic" "$OUT/demo.tar.zst" "$OUT/demo.db"
