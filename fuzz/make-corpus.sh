#!/usr/bin/env bash
# Regenerates the seed corpus in fuzz/corpus/ (small files, kept in the
# repository): tiny ELF files built here (one with a repeated DT_NEEDED, as
# `patchelf --add-needed` makes), edits for the patcher, extents blobs, a
# small ld.so.cache written by ldconfig, catalogs (bytes and SQL edits) and
# trace records. Needs gcc, patchelf, python3, sqlite3 and build/tests/mkcatalog.
set -euo pipefail
cd "$(dirname "$0")"
C=corpus
rm -rf "$C" && mkdir -p "$C"/{elf_read,elf_patch,extents,ldcache,catalog,ingest}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
small="-Os -s -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none -fno-asynchronous-unwind-tables"
echo 'int f(void) { return 1; }' > "$tmp/t.c"
echo 'int main(void) { return 0; }' > "$tmp/m.c"
gcc $small -shared -fPIC -o "$tmp/libt.so" "$tmp/t.c" -Wl,-soname,libt.so.1 -lm
gcc $small -shared -fPIC -o "$tmp/librp.so" "$tmp/t.c" -Wl,-rpath,/opt/old/lib -Wl,--disable-new-dtags -lm
gcc $small -shared -fPIC -o "$tmp/librun.so" "$tmp/t.c" -Wl,-rpath,'$ORIGIN/../lib' -Wl,--enable-new-dtags
gcc $small -o "$tmp/prog" "$tmp/m.c" -lm
cp "$tmp/libt.so" "$tmp/libdup.so" && patchelf --add-needed libc.so.6 "$tmp/libdup.so"
for f in libt.so librp.so librun.so prog libdup.so; do cp "$tmp/$f" "$C/elf_read/$f"; done
# patcher edits: flags, rename count, rpath\0 soname\0 (from\0 to\0)... then the ELF
edit() { # NAME ELF FLAGS NREN STRINGS...
  local name=$1 elf=$2 flags=$3 nren=$4; shift 4
  { printf "\\x$(printf %02x "$flags")\\x$(printf %02x "$nren")"
    for s in "$@"; do printf '%s\0' "$s"; done
    cat "$tmp/$elf"; } > "$C/elf_patch/$name"
}
edit rpath-t libt.so 1 0 '$ORIGIN/lib' ''
edit soname-t libt.so 2 0 '' libt-1234abcd.so.1
edit rename-t libt.so 0 1 '' '' libm.so.6 libm-5678.so.6
edit all-rp librp.so 3 2 '$ORIGIN/../lib/x' libnew.so libm.so.6 libm-x.so.6 libc.so.6 libc.so.6
edit remove-run librun.so 1 0 '' ''
edit prog-rename prog 1 1 '$ORIGIN' '' libm.so.6 libm-longer-name-than-before.so.6
edit dup-rename libdup.so 0 1 '' '' libc.so.6 libc-renamed.so.6
python3 - "$C/extents" <<'PY'
import struct, sys
d = sys.argv[1]
def blob(exts):
    body, size = b"", 0
    for e in exts:
        if e[0] == "c":
            body += struct.pack("<BQQ", 0, e[2], e[1]); size += e[2]
        else:
            body += struct.pack("<BQ", 1, len(e[1])) + e[1]; size += len(e[1])
    return b"PFX1" + struct.pack("<QI", size, len(exts)) + body
seeds = {
    "literal": [("l", b"#!/bin/sh\necho hi\n")],
    "copy": [("c", 0, 4096)],
    "mixed": [("l", b"HEAD"), ("c", 100, 5000), ("l", b"MID"), ("c", 60000, 5536), ("l", b"T")],
    "empty": [],
    "past-source": [("c", 65000, 1000)],
}
for name, exts in seeds.items():
    open(f"{d}/{name}", "wb").write(blob(exts))
PY
python3 - "$C/ldcache" <<'PY'
import struct, sys
# glibc-ld.so.cache1.1: header, entries {flags, key, value, osversion, hwcap},
# strings (offsets from the file's start)
def cache(entries, ext=b""):
    hdr = 48
    strings, offs = b"", {}
    base = hdr + 24 * len(entries)
    for k, v, *_ in entries:
        for s in (k, v):
            if s not in offs:
                offs[s] = base + len(strings)
                strings += s.encode() + b"\0"
    body = b"".join(struct.pack("<iIIIQ", e[2], offs[e[0]], offs[e[1]], 0, e[3] if len(e) > 3 else 0)
                    for e in entries)
    head = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI3I", len(entries), len(strings), 2, 0, 0, 0, 0)
    return head + body + strings
x86 = 0x0303  # FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
ents = [("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", x86),
        ("libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6", x86),
        ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", x86),
        ("libz.so.1", "/lib/i386-linux-gnu/libz.so.1", 0x0003)]
open(sys.argv[1] + "/small.cache", "wb").write(cache(ents))
open(sys.argv[1] + "/empty.cache", "wb").write(cache([]))
PY
# catalogs: the harness's own seed as bytes (from a build-fuzz run), and SQL edits
mk=../build/tests/mkcatalog
if [ -x "$mk" ]; then
  mkdir -p "$tmp/src/d" && echo hello > "$tmp/src/d/a.txt" && ln -s a.txt "$tmp/src/d/l"
  "$mk" "$C/catalog/small.db" "$tmp/src" --literal "run.sh=#!/bin/sh"
  sqlite3 "$C/catalog/small.db" "PRAGMA page_size=512; VACUUM;"
fi
python3 - "$C/catalog" <<'PY'
import sys
d = sys.argv[1]
sqls = {
    "view": "DROP TABLE tree; CREATE VIEW tree AS WITH RECURSIVE r(id) AS (SELECT 1 UNION ALL SELECT id+1 FROM r) SELECT id FROM r;",
    "trigger": "CREATE TRIGGER t AFTER INSERT ON warnings BEGIN DELETE FROM tree; END;",
    "dotdot": "UPDATE tree SET path='../x', name='x' WHERE id=4;",
    "under-link": "INSERT INTO tree(id,parent,path,name,type,mode,size,mtime) VALUES(9,6,'app/l/x','x','d',511,0,0);",
    "null-target": "UPDATE tree SET target=NULL WHERE id=6;",
    "size": "UPDATE tree SET size=size+1 WHERE id=5;",
    "root": "INSERT INTO roots VALUES('/', 'env');",
    "source": "UPDATE tree SET source='/etc/shadow' WHERE id=4;",
    "type": "UPDATE tree SET type='x' WHERE id=3;",
    "blob-path": "UPDATE tree SET path=X'61707000' WHERE id=2;",
    "ok": "UPDATE tree SET mode=420 WHERE id=3;",
}
for k, v in sqls.items():
    open(f"{d}/sql-{k}", "w").write("S" + v)
PY
python3 - "$C/ingest" <<'PY'
import sys
d = sys.argv[1]
recs = {
    "python": "P\t100\t1\t/app\t/usr/bin/python3.11\nI\tversion\t3.11.2\nI\tprefix\t/usr\nS\t0\t/app\n"
              "E\tscript\t/app/app.py\nM\tjson\t/usr/lib/python3.11/json/__init__.py\tsource\t__main__\n"
              "O\t/usr/lib/x86_64-linux-gnu/libc.so.6\nX\t/usr/bin/true\ttrue\nZ\texit\n",
    "escapes": "P\t1\t0\t/a\\tb\t/x\nM\tm\t/p\\\\q\\nr\tsource\t\nF\t/etc/x\nZ\texit\n",
    "cut": "P\t1\t0\t/\t/x\nM\tm\t/p",
    "no-p": "M\tm\t/p\tsource\t\nZ\texit\n",
}
for k, v in recs.items():
    open(f"{d}/{k}", "w").write(v)
PY
du -sh "$C"/*
