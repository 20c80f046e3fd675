"""Hostile and damaged catalogs against pfexport (folder and .tar.zst) and
pfwhy: each is refused with one line naming the file and the reason, a
non-zero exit, nothing written outside DIR (the whole test folder is
compared before and after), no half-written output (no DIR, no DIR.tmp-PID),
no setuid bit, and no device, FIFO or other user's file content in any
output. The catalogs are a good one (mkcatalog over a small folder, or
pfanalyze's) edited by hand with sqlite3."""
import contextlib
import hashlib
import io
import os
import shutil
import sqlite3
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from pyfarm_testlib import BUILD, analyze, mounted, tool

DEB_PY = "/usr/bin/python3"
MKCATALOG = BUILD / "tests" / "mkcatalog"
SHA_ZERO = "0" * 64


def run(*argv, timeout=60, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          **kw)


def snapshot(root):
    """Every path under root with its type, mode, size and content hash."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            h = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                             st.st_size, h)
    return out


def one_line(r):
    assert r.returncode != 0, f"exit 0:\n{r.stderr}"
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# The same refusals as worded by the catalog's own validation on open
# (lib/catalog.c, when it checks first): any of these is a clear reason too.
VALIDATION_REASONS = ("not normalized", "its parent is not a folder", "not a pyfarm catalog",
                      "size differs from the source's size", "not under any of the catalog's roots",
                      "a symlink without a valid target", "size differs from the patch's output size",
                      "unknown type", "invalid name", "cannot be a source root")


def declare_roots(cat, *roots):
    """SQL declaring the folders sources must lie under (the catalog's roots table)."""
    with contextlib.closing(sqlite3.connect(cat)) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='roots'"
                          ).fetchone(), f"{cat}: no roots table"
    return ["DELETE FROM roots",
            *[("INSERT INTO roots(path, kind) VALUES(?, 'folder')", (str(r),)) for r in roots]]


def refused(cat, tmp, names, reasons, outs=("out", "out.tar.zst"), opts=()):
    """pfexport CAT to each of outs: refused, one line naming one of names
    (the catalog or the entry) and giving one of reasons, nothing changed in
    tmp (so nothing outside DIR and no DIR or DIR.tmp-PID left)."""
    before = snapshot(tmp)
    for o in outs:
        line = one_line(run(tool("pfexport"), *opts, cat, tmp / o))
        assert any(str(n) in line for n in names), line
        assert any(r.lower() in line.lower() for r in (*reasons, *VALIDATION_REASONS)), line
        assert "Success" not in line, line
        assert snapshot(tmp) == before, f"{o}: the folder changed"
    return line


@pytest.fixture
def src(tmp_path):
    s = tmp_path / "src"
    (s / "app" / "sub").mkdir(parents=True)
    (s / "lib").mkdir()
    (s / "app" / "app.py").write_text("print('hi')\n")
    (s / "app" / "sub" / "mod.py").write_text("X = 1\n")
    (s / "app" / "data.bin").write_bytes(os.urandom(64 << 10))
    (s / "lib" / "tool").write_bytes(b"\x7fELF" + os.urandom(1000))
    (s / "lib" / "tool").chmod(0o755)
    (tmp_path / "canary").mkdir()
    (tmp_path / "canary" / "keep").write_text("mine\n")
    return s


@pytest.fixture
def good(tmp_path, src):
    cat = tmp_path / "good.db"
    r = run(MKCATALOG, cat, src, "--patched", f"app/patched.bin={src / 'app' / 'data.bin'}",
            "--literal", "run.sh=#!/bin/sh\necho hi\n")
    assert r.returncode == 0, r.stderr
    return cat


def edit(base, dst, *statements, loose=False):
    """A copy of catalog base with SQL statements applied. loose: the tree
    table without its constraints (no NOT NULL, no UNIQUE), as a hostile
    catalog may have it."""
    shutil.copy(base, dst)
    with contextlib.closing(sqlite3.connect(dst)) as db:
        if loose:
            db.executescript("CREATE TABLE t2 AS SELECT * FROM tree; DROP TABLE tree;"
                             " ALTER TABLE t2 RENAME TO tree;")
        for s in statements:
            if isinstance(s, str):
                db.execute(s)
            else:
                db.execute(*s)
        db.commit()
    return dst


def entry(path, type_, *, source=None, mode=0o644, size=0, target=None, sha=SHA_ZERO, name=None,
          src_size=None, src_mtime_ns=None):
    """An INSERT of one tree row; a source's size and mtime are taken from
    stat(2), as anyone can."""
    if source is not None and src_size is None:
        st = os.stat(source)
        src_size, src_mtime_ns = st.st_size, st.st_mtime_ns
        size = size or st.st_size
    if type_ == "l" and target:
        size = len(target)
    nm = name if name is not None else (path.rsplit("/", 1)[-1] if path else path)
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    return ("INSERT INTO tree(id, parent, path, name, type, mode, size, mtime, source, src_size,"
            " src_mtime_ns, target, sha256, patch, reason, origin) VALUES((SELECT max(id)+1 FROM"
            " tree), coalesce((SELECT id FROM tree WHERE path=?), 1), ?, ?, ?, ?, ?, 1700000000,"
            " ?, ?, ?, ?, ?, NULL, 'hostile', 'hostile')",
            (folder, path, nm, type_, mode, size, str(source) if source else None, src_size,
             src_mtime_ns, target, sha if type_ == "f" else None))


def _untar(path):
    """Members of a .tar.zst, through the zstd tool (no Python binding needed)."""
    raw = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return tarfile.open(fileobj=io.BytesIO(raw)).getmembers()


def no_setuid(root):
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            assert not p.stat().st_mode & 0o7000, p


# ---- the good catalog still exports, with the same bytes ----

def test_good_catalog_exports(tmp_path, src, good):
    r = run(tool("pfexport"), good, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert (out / "app" / "data.bin").read_bytes() == (src / "app" / "data.bin").read_bytes()
    data = (src / "app" / "data.bin").read_bytes()
    half = len(data) // 2
    assert (out / "app" / "patched.bin").read_bytes() == (
        b"PYFARM-HEAD\n" + data[:half] + b"PYFARM-MIDDLE\n" + data[half:] + b"PYFARM-TAIL\n")
    assert stat.S_IMODE((out / "lib" / "tool").stat().st_mode) == 0o755
    r = run(tool("pfexport"), good, tmp_path / "out.tar.zst")
    assert r.returncode == 0, r.stderr
    names = {m.name for m in _untar(tmp_path / "out.tar.zst")}
    assert "app/patched.bin" in names and "run.sh" in names
    assert not list(tmp_path.glob("out*.tmp-*"))


# ---- item 1: writes outside DIR ----

@pytest.mark.parametrize("kind", ["file", "dir", "symlink", "absolute"])
def test_dotdot_and_absolute_paths(tmp_path, src, good, kind):
    app = src / "app" / "app.py"
    path = {"file": "../canary/pwned", "dir": "../canary/d", "symlink": "../canary/l",
            "absolute": str(tmp_path / "canary" / "abs")}[kind]
    row = {"file": entry(path, "f", source=app), "dir": entry(path, "d", mode=0o777),
           "symlink": entry(path, "l", target="/etc/passwd"),
           "absolute": entry(path, "f", source=app)}[kind]
    cat = edit(good, tmp_path / "h.db", row)
    refused(cat, tmp_path, [path], ['".." component', "absolute name"])


def test_entries_under_a_symlink_entry(tmp_path, src, good):
    canary = tmp_path / "canary"
    cat = edit(good, tmp_path / "h.db", entry("app/evil", "l", target=str(canary)),
               entry("app/evil/file", "f", source=src / "app" / "app.py"),
               entry("app/evil/dir", "d", mode=0o777))
    refused(cat, tmp_path, ["app/evil/dir", "app/evil/file"], ["symlink"])
    assert stat.S_IMODE(canary.stat().st_mode) != 0o777


def test_entry_under_a_file_and_missing_folder(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", entry("app/app.py/x", "f", source=src / "app" / "app.py"))
    refused(cat, tmp_path, ["app/app.py/x"], ["under file entry"])
    cat = edit(good, tmp_path / "h2.db", entry("nowhere/x", "f", source=src / "app" / "app.py"))
    refused(cat, tmp_path, ["nowhere/x"], ["no folder entry"])


def test_odd_names(tmp_path, src, good):
    app = src / "app" / "app.py"
    for i, (path, why) in enumerate([("app//x", "empty component"), ("app/./x", '"." or ".."'),
                                     ("app/x/", "empty component"),
                                     ("app/" + "n" * 300, "longer than 255")]):
        cat = edit(good, tmp_path / f"h{i}.db", entry(path, "f", source=app))
        refused(cat, tmp_path, [path[:40]], [why])
    cat = edit(good, tmp_path / "hn.db", entry("app/x", "f", source=app, name="y"))
    refused(cat, tmp_path, ["app/x"], ["name differs"])


def test_duplicate_path(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", entry("app/app.py", "f", source=src / "app" / "data.bin"),
               loose=True)
    refused(cat, tmp_path, [cat, "app/app.py"], ["twice"])


# ---- item 2: setuid bits ----

def test_setuid_bits_masked(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", "UPDATE tree SET mode=2541 WHERE path='lib/tool'",  # 04755
               "UPDATE tree SET mode=1535 WHERE path='lib'")  # 02777
    out = tmp_path / "out"
    r = run(tool("pfexport"), cat, out)
    assert r.returncode == 0, r.stderr
    no_setuid(out)
    assert stat.S_IMODE((out / "lib" / "tool").stat().st_mode) == 0o755
    r = run(tool("pfexport"), cat, tmp_path / "out.tar.zst")
    assert r.returncode == 0, r.stderr
    assert all(not m.mode & 0o7000 for m in _untar(tmp_path / "out.tar.zst"))
    r = run(tool("pfexport"), "--keep-setuid", cat, tmp_path / "kept")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "kept" / "lib" / "tool").stat().st_mode) == 0o4755


# ---- item 3: sources ----

def test_device_source(tmp_path, src, good):
    # the probe's: 50 MB out of a source whose size (0) matched
    cat = edit(good, tmp_path / "h.db", entry("app/zero", "f", source="/dev/zero", size=50 << 20))
    refused(cat, tmp_path, ["app/zero"], ["character device", "differs from its unpatched source"])
    cat = edit(good, tmp_path / "h2.db", entry("app/zero", "f", source="/dev/zero", size=0))
    refused(cat, tmp_path, ["app/zero"], ["character device"])


def test_fifo_source_does_not_hang(tmp_path, src, good):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cat = edit(good, tmp_path / "h.db", entry("app/fifo", "f", source=fifo, size=10))
    refused(cat, tmp_path, ["app/fifo"], ["FIFO"])


def test_symlinked_or_unnormalized_source(tmp_path, src, good):
    link = tmp_path / "link.py"
    link.symlink_to(src / "app" / "app.py")
    st = os.stat(link)
    cat = edit(good, tmp_path / "h.db", entry("app/link.py", "f", source=link,
                                              src_size=st.st_size, src_mtime_ns=st.st_mtime_ns,
                                              size=st.st_size))
    refused(cat, tmp_path, ["app/link.py"], ["symlink"])
    odd = f"{src}/app/../app/app.py"
    cat = edit(good, tmp_path / "h2.db", entry("app/odd.py", "f", source=odd))
    refused(cat, tmp_path, ["app/odd.py"], ["not an absolute normalized path"])


def test_private_file_not_leaked(tmp_path, src, good):
    private = src / "app" / "private.txt"  # under the folder the catalog was made from
    private.write_text("secret of another user\n")
    private.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(private, 65534, 65534)
    cat = edit(good, tmp_path / "h.db", entry("app/private.txt", "f", source=private, mode=0o644))
    refused(cat, tmp_path, ["app/private.txt"], ["not readable by other users"])
    # the same mode as the source's: exported, and as private as it was
    sha = hashlib.sha256(private.read_bytes()).hexdigest()
    cat = edit(good, tmp_path / "h2.db",
               entry("app/private.txt", "f", source=private, mode=0o600, sha=sha))
    r = run(tool("pfexport"), cat, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "out" / "app" / "private.txt").stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.exists("/etc/shadow"), reason="no /etc/shadow on this machine")
def test_etc_shadow_not_exported_world_readable(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", entry("app/shadow", "f", source="/etc/shadow"))
    refused(cat, tmp_path, ["app/shadow"], ["not readable by", "Permission denied"])
    # under roots the catalog declares, /etc is not (mode as the file's own)
    cat = edit(good, tmp_path / "h2.db", entry("app/shadow", "f", source="/etc/shadow", mode=0o640),
               *declare_roots(good, src, "/usr/lib"))
    refused(cat, tmp_path, ["app/shadow"], ["outside the folders the catalog declares"])


def test_declared_roots(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", *declare_roots(good, src))
    r = run(tool("pfexport"), cat, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    shutil.rmtree(tmp_path / "out")
    cat = edit(good, tmp_path / "h2.db", *declare_roots(good, "/"))
    refused(cat, tmp_path, ["source root /"], ["not an absolute folder"])
    cat = edit(good, tmp_path / "h3.db", *declare_roots(good, src / "lib"))
    refused(cat, tmp_path, ["app/"], ["outside the folders the catalog declares"])


# ---- item 6: crashes and hangs ----

@pytest.mark.parametrize("column", ["path", "name"])
def test_null_path_or_name(tmp_path, src, good, column):
    cat = edit(good, tmp_path / "h.db", f"UPDATE tree SET {column}=NULL WHERE path='app/app.py'",
               loose=True)
    refused(cat, tmp_path, [cat, "app/app.py"], ["no path", "no name"])


def test_null_symlink_target(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", entry("app/link", "l", target=None))
    refused(cat, tmp_path, ["app/link"], ["without a target"])


def test_fifo_or_folder_as_catalog(tmp_path):
    fifo = tmp_path / "cat.db"
    os.mkfifo(fifo)
    (tmp_path / "canary").mkdir()
    refused(fifo, tmp_path, [fifo], ["FIFO", "not a regular file"])
    line = one_line(run(tool("pfwhy"), fifo, "run.sh"))
    assert str(fifo) in line and "a FIFO" in line  # pf_catalog_open's wording, as pfmount's
    folder = tmp_path / "folder.db"
    folder.mkdir()
    refused(folder, tmp_path, [folder], ["a folder", "not a regular file"])


def test_pfwhy_dot_slash_path(tmp_path, good):
    for arg in ("./app/app.py", "/app/app.py", "././app/app.py", "app/app.py"):
        r = run(tool("pfwhy"), good, arg)
        assert r.returncode == 0, r.stderr
        assert "Sanitizer" not in r.stderr, r.stderr
        assert r.stdout.startswith("app/app.py [test]"), r.stdout
    line = one_line(run(tool("pfwhy"), good, "./app/nothing"))
    assert "app/nothing: not in the dist" in line


# ---- item 7: silent wrong bytes ----

def rewrite_in_place(path):
    """Other bytes of the same size, with the nanosecond mtime restored."""
    st = os.stat(path)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns and os.stat(path).st_size == st.st_size


def test_sha256_mismatch_mkcatalog(tmp_path, src, good):
    rewrite_in_place(src / "app" / "data.bin")
    # data.bin and the patched file over it both differ now
    refused(good, tmp_path, ["app/data.bin", "app/patched.bin"], ["sha256"])


def test_sha256_mismatch_analyzed(tmp_path):
    app = tmp_path / "hello.py"
    app.write_text("import json\nprint(json.dumps([1, 2]))\n")
    cat = tmp_path / "good.db"
    analyze(cat, [DEB_PY, str(app)])
    (tmp_path / "canary").mkdir()
    rewrite_in_place(app)
    refused(cat, tmp_path, ["hello.py"], ["differs from the catalog's sha256"])


def test_recorded_sha256_wrong_or_missing(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", f"UPDATE tree SET sha256='{SHA_ZERO}' WHERE path='run.sh'")
    refused(cat, tmp_path, ["run.sh"], ["sha256"])
    cat = edit(good, tmp_path / "h2.db", "UPDATE tree SET sha256=NULL WHERE path='app/app.py'")
    refused(cat, tmp_path, ["app/app.py"], ["no valid sha256"])


@pytest.mark.parametrize("delta", [-5, 5])
def test_patched_file_with_wrong_size(tmp_path, src, good, delta):
    cat = edit(good, tmp_path / "h.db",
               f"UPDATE tree SET size=size+({delta}) WHERE path='app/patched.bin'")
    refused(cat, tmp_path, ["app/patched.bin"], ["the patch makes"])
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        pytest.skip("no /dev/fuse or fusermount3 here: the mount's side is not checked")
    # the mount agrees: reading the file fails, never other bytes (or, when
    # the catalog is validated on open, pfmount refuses the catalog)
    try:
        with mounted(cat, tmp_path / "mnt") as mnt:
            with pytest.raises(OSError):
                (mnt / "app" / "patched.bin").read_bytes()
            assert (mnt / "app" / "app.py").read_text() == "print('hi')\n"
    except AssertionError as e:
        assert "pfmount exited" in str(e) and "app/patched.bin" in str(e), e


def test_unknown_entry_type(tmp_path, src, good):
    cat = edit(good, tmp_path / "h.db", entry("app/weird", "x", source=src / "app" / "app.py"))
    refused(cat, tmp_path, ["app/weird"], ["unknown entry type"])


# ---- item 9: messages ----

def test_full_disk_names_the_cause(tmp_path, src, good):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = run("mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", mnt)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        for o in ("out", "out.tar.zst"):
            line = one_line(run(tool("pfexport"), good, mnt / o))
            assert "No space left on device" in line and "Success" not in line, line
            assert not list(mnt.iterdir()), list(mnt.iterdir())
    finally:
        run("umount", mnt)
