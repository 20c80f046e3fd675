"""Hostile and damaged catalogs (issue 8, catalog and mount side).

A catalog is untrusted input. Each case below starts from a good catalog
(tests/mkcatalog mirroring a small folder) and breaks one thing the way a
hostile or damaged file would. Every tool that opens a catalog must refuse
it before acting, with one line naming the file and the real cause, in
seconds (never a hang); pfmount must mount nothing. Cases that pass the
validation by design (a source that is a FIFO, a device or leads outside
the roots through a symlink) are served as EIO/EACCES, never bytes, and
never block the mount.

Runs on the sanitizer build too (tests/run-all.sh). Needs root and
/dev/fuse for the mount cases; the refusals need neither.
"""

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pfmount_unit import MKCATALOG, PFMOUNT, is_mounted, mounted, read_errno  # noqa: E402

BUILD = os.environ.get("PYFARM_BUILD", str(Path(__file__).resolve().parents[2] / "build"))
PFEXPORT = os.path.join(BUILD, "tools", "pfexport")
CAN_MOUNT = os.path.exists("/dev/fuse") and os.geteuid() == 0 and shutil.which("fusermount3")

pytestmark = pytest.mark.skipif(
    not (os.path.exists(PFMOUNT) and os.path.exists(MKCATALOG)),
    reason="needs built pfmount and mkcatalog (PYFARM_BUILD)",
)

TREE_COLS = ("id, parent, path, name, type, mode, size, mtime, source, src_size, src_mtime_ns,"
             " target, sha256, patch, reason, origin")


@pytest.fixture
def good(tmp_path):
    src = tmp_path / "src"
    (src / "app").mkdir(parents=True)
    (src / "app" / "a.txt").write_bytes(b"hello\n")
    (src / "app" / "b.bin").write_bytes(os.urandom(70000))
    os.symlink("a.txt", src / "app" / "link")
    cat = tmp_path / "good.db"
    subprocess.run([MKCATALOG, str(cat), str(src), "--patched", "app/p.bin=" + str(src / "app" / "b.bin"),
                    "--literal", "run.sh=#!/bin/sh\n"], check=True)
    return tmp_path, src, cat


def hostile(good, *sql, params=()):
    """A copy of the good catalog with the statements applied (by Python's
    sqlite3, which has none of pyfarm's restrictions)."""
    tmp, src, cat = good
    bad = tmp / "bad.db"
    shutil.copy(cat, bad)
    db = sqlite3.connect(bad)
    for i, s in enumerate(sql):
        db.execute(s, params[i] if i < len(params) else ())
    db.commit()
    db.close()
    return bad


def ids(cat):
    db = sqlite3.connect(cat)
    try:
        return dict(db.execute("SELECT path, id FROM tree"))
    finally:
        db.close()


def refuses(catalog, *needles, tools=("pfmount", "pfexport"), timeout=30):
    """Every tool refuses the catalog with one line naming it and the cause."""
    for t in tools:
        if t == "pfexport" and not os.path.exists(PFEXPORT):
            continue
        out = Path(str(catalog) + ".out")
        mnt = Path(str(catalog) + ".mnt")  # out: a folder by its trailing slash (pfexport)
        mnt.mkdir(exist_ok=True)
        argv = [PFMOUNT, str(catalog), str(mnt), "-f"] if t == "pfmount" else [PFEXPORT, str(catalog), f"{out}/"]
        t0 = time.monotonic()
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            if is_mounted(str(mnt)):  # accepted and mounted: leave nothing behind
                subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)
            raise AssertionError(f"{t} did not refuse {catalog} within {timeout} s")
        took = time.monotonic() - t0
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert r.returncode != 0, (t, r.stderr)
        assert len(lines) == 1, (t, r.stderr)
        assert lines[0].startswith(f"{t}: ") and str(catalog) in lines[0], (t, lines)
        for n in needles:
            assert n in lines[0], (t, lines[0])
        assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr
        if t == "pfmount":
            assert not is_mounted(str(mnt))
        else:
            assert not out.exists() or not any(out.iterdir()), "pfexport wrote something"
        assert took < timeout - 5, (t, took)
    return lines[0]


# ---- schema ------------------------------------------------------------------


def test_recursive_view_named_tree(good):
    bad = hostile(good, "DROP TABLE tree",
                  "CREATE VIEW tree AS WITH RECURSIVE r(id) AS (SELECT 1 UNION ALL SELECT id + 1"
                  " FROM r) SELECT id, 0 AS parent, '' AS path, '' AS name, 'd' AS type, 493 AS mode,"
                  " 0 AS size, 0 AS mtime, NULL AS source, NULL AS src_size, NULL AS src_mtime_ns,"
                  " NULL AS target, NULL AS sha256, NULL AS patch FROM r")
    refuses(bad, "view tree")


def test_trigger(good):
    bad = hostile(good, "CREATE TRIGGER t AFTER INSERT ON warnings BEGIN DELETE FROM tree; END")
    refuses(bad, "trigger t")


def test_schema_without_not_null(good):
    bad = hostile(
        good, "ALTER TABLE tree RENAME TO old",
        "CREATE TABLE tree(id INTEGER PRIMARY KEY, parent INTEGER, path TEXT UNIQUE, name TEXT,"
        " type TEXT, mode INTEGER, size INTEGER, mtime INTEGER, source TEXT, src_size INTEGER,"
        " src_mtime_ns INTEGER, target TEXT, sha256 TEXT, patch BLOB, reason TEXT, origin TEXT)",
        f"INSERT INTO tree SELECT {TREE_COLS} FROM old", "DROP TABLE old",
        "CREATE UNIQUE INDEX tree_child ON tree(parent, name)",
        "INSERT INTO tree(id, parent, path, name, type, mode, size, mtime) VALUES(900, 1, NULL, NULL, 'f', 420, 0, 0)")
    refuses(bad, "table tree differs from schema")


def test_missing_index(good):
    refuses(hostile(good, "DROP INDEX tree_child"), "no index tree_child")


def test_generated_column(good):
    bad = hostile(good, "ALTER TABLE tree ADD COLUMN x INTEGER GENERATED ALWAYS AS (1) VIRTUAL")
    refuses(bad, "table tree differs")


# ---- tree entries --------------------------------------------------------------

ENTRY = ("INSERT INTO tree(id, parent, path, name, type, mode, size, mtime, source, src_size,"
         " src_mtime_ns, target, sha256, patch) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


def entry(id, parent, path, name, type="f", mode=0o644, size=0, source=None, src_size=None,
          target=None, patch=None, sha=None):
    return (id, parent, path, name, type, mode, size, 0, source, src_size, 0 if source else None,
            target, sha, patch)


@pytest.mark.parametrize("path,name,needle", [
    ("../evil", "evil", "not normalized"),
    ("app/../../evil", "evil", "not normalized"),
    ("/etc/cron.d/x", "x", "not normalized"),
    ("app//x", "x", "not normalized"),
    ("..", "..", "invalid name"),
    ("app/.", ".", "invalid name"),
    ("a/b", "a/b", "invalid name"),
    ("x", "", "invalid name"),
])
def test_bad_paths(good, path, name, needle):
    bad = hostile(good, ENTRY, params=[entry(900, 1, path, name, "l", target="x", size=1)])
    refuses(bad, needle)


def test_entry_under_a_symlink(good):
    """app/evil -> /tmp, then app/evil/file and app/evil/dir."""
    app = ids(good[2])["app"]
    bad = hostile(good, ENTRY, ENTRY, params=[
        entry(900, app, "app/evil", "evil", "l", target="/tmp", size=4),
        entry(901, 900, "app/evil/dir", "dir", "d", mode=0o777)])
    refuses(bad, "parent is not a folder")


def test_parent_missing(good):
    bad = hostile(good, ENTRY, params=[entry(900, 4242, "x", "x", "d")])
    refuses(bad, "parent is not in the tree")


def test_embedded_nul_in_path(good):
    bad = hostile(good, "INSERT INTO tree(id, parent, path, name, type, mode, size, mtime, target)"
                  " VALUES(900, 1, CAST(X'6100' || CAST('/../../x' AS BLOB) AS TEXT), 'a', 'l', 420, 1, 0, 'x')")
    refuses(bad, "without NUL")


def test_blob_path(good):
    bad = hostile(good, "INSERT INTO tree(id, parent, path, name, type, mode, size, mtime, target)"
                  " VALUES(900, 1, X'6576696c', 'evil', 'l', 420, 1, 0, 'x')")
    refuses(bad, "must be text")


def test_unknown_type(good):
    bad = hostile(good, ENTRY, params=[entry(900, 1, "x", "x", "p")])
    refuses(bad, "unknown type")


def test_null_symlink_target(good):
    bad = hostile(good, ENTRY, params=[entry(900, 1, "x", "x", "l", target=None)])
    refuses(bad, "symlink without a valid target")


def test_mode_out_of_range(good):
    bad = hostile(good, "UPDATE tree SET mode = 1048575 WHERE path = 'app/a.txt'")
    refuses(bad, "mode outside 07777")


def test_text_in_integer_column(good):
    bad = hostile(good, "UPDATE tree SET size = 'many' WHERE path = 'app/a.txt'")
    refuses(bad, "must be integers")


def test_patched_size_wrong(good):
    bad = hostile(good, "UPDATE tree SET size = size + 1 WHERE path = 'app/p.bin'")
    refuses(bad, "patch's output size")


def test_plain_size_wrong(good):
    bad = hostile(good, "UPDATE tree SET size = size + 1 WHERE path = 'app/a.txt'")
    refuses(bad, "source's size")


def test_patch_copies_past_source(good):
    bad = hostile(good, "UPDATE tree SET src_size = 10 WHERE path = 'app/p.bin'")
    refuses(bad, "past the end of the source")


def test_corrupt_patch_blob(good):
    bad = hostile(good, "UPDATE tree SET patch = X'50465831ffffffff' WHERE path = 'app/p.bin'")
    refuses(bad, "patch")


def test_bad_sha256(good):
    bad = hostile(good, "UPDATE tree SET sha256 = 'zz' WHERE path = 'app/a.txt'")
    refuses(bad, "sha256")


@pytest.mark.parametrize("source", ["etc/shadow", "/etc/../etc/shadow", "/a//b", "/a/./b"])
def test_source_not_normalized(good, source):
    bad = hostile(good, "UPDATE tree SET source = ? WHERE path = 'app/a.txt'", params=[(source,)])
    refuses(bad, "absolute normalized")


def test_no_root(good):
    refuses(hostile(good, "DELETE FROM tree WHERE id = 1"), "no dist tree")


# ---- roots -------------------------------------------------------------------


def test_source_outside_roots(good):
    st = os.stat("/etc/hostname")
    bad = hostile(good, "UPDATE tree SET source = '/etc/hostname', size = ?, src_size = ?,"
                  " src_mtime_ns = ?, patch = NULL, sha256 = NULL WHERE path = 'app/a.txt'",
                  params=[(st.st_size, st.st_size, st.st_mtime_ns)])
    refuses(bad, "not under any of the catalog's roots")


@pytest.mark.parametrize("root", ["/", "/etc", "/etc/shadow", "/etc/ssh", "/proc/self", "/dev", "/root",
                                  "/root/.ssh", "/home/u/.gnupg", "/tmp", "/etc/ssl/private", "relative"])
def test_forbidden_roots(good, root):
    refuses(hostile(good, "INSERT INTO roots VALUES(?, 'env')", params=[(root,)]), f"source root {root}")


def test_schema_1_is_not_served(good):
    """A version-1 catalog declares no roots: nothing can say where its
    sources may come from, so pfmount refuses it (pfanalyze upgrades it)."""
    bad = hostile(good, "DROP TABLE roots", "UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    refuses(bad, "declares no source roots", "pfanalyze", tools=("pfmount",))


# ---- the file itself -----------------------------------------------------------


def test_folder_as_catalog(tmp_path):
    d = tmp_path / "cat.db"
    d.mkdir()
    refuses(d, "a folder")


def test_fifo_as_catalog(tmp_path):
    f = tmp_path / "cat.db"
    os.mkfifo(f)
    refuses(f, "a FIFO")


def test_corrupt_pages(good):
    tmp, _, cat = good
    bad = tmp / "bad.db"
    data = bytearray(cat.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for off in range(page * 2, len(data), 97):  # every page but the first two
        data[off] ^= 0x5A
    bad.write_bytes(bytes(data))
    line = refuses(bad, tools=("pfmount",))
    assert "damaged" in line or "malformed" in line, line
    assert "no tree" not in line


def test_locked_catalog(good):
    """A writer holding the catalog: the message says so (after SQLite's
    10 s busy wait), not "application_id 0"."""
    tmp, _, cat = good
    db = sqlite3.connect(cat, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        refuses(cat, "locked by another process", tools=("pfmount",), timeout=40)
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_good_catalog_is_accepted(good):
    """The control: the same tools accept the untouched catalog."""
    tmp, _, cat = good
    if CAN_MOUNT:
        with mounted(str(cat), str(tmp / "mnt")) as m:
            assert open(os.path.join(m.path, "app", "a.txt"), "rb").read() == b"hello\n"


# ---- sources that pass validation but must not be served ------------------------

needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="needs root, /dev/fuse and fusermount3")


@needs_mount
def test_fifo_source_does_not_hang_the_mount(good):
    tmp, src, cat = good
    a = src / "app" / "a.txt"
    a.unlink()
    os.mkfifo(a)  # a writer-less FIFO: opening it for reading would block forever
    with mounted(str(cat), str(tmp / "mnt")) as m:
        done = {}

        def reader():
            done["errno"] = read_errno(os.path.join(m.path, "app", "a.txt"))

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(10)
        assert not t.is_alive(), "a reader of a FIFO source is stuck"
        assert done["errno"] == errno.EIO
        assert open(os.path.join(m.path, "app", "b.bin"), "rb").read() == (src / "app" / "b.bin").read_bytes()
        time.sleep(0.2)
        assert "a FIFO" in m.stderr(), m.stderr()
    assert not is_mounted(str(tmp / "mnt"))  # fusermount3 -u worked: no reader in D state


@needs_mount
@pytest.mark.parametrize("target,needle", [("/dev/zero", "a character device"),
                                           ("/etc/hostname", "outside the catalog's source roots")])
def test_symlinked_source_leading_out(good, target, needle):
    """A source path under a root whose last component is a symlink to a
    device or to a file outside the roots: refused as the file reached."""
    tmp, src, cat = good
    a = src / "app" / "a.txt"
    st = os.stat(target)
    a.unlink()
    os.symlink(target, a)
    db = sqlite3.connect(cat)
    db.execute("UPDATE tree SET size = ?, src_size = ?, src_mtime_ns = ?, sha256 = NULL WHERE path = 'app/a.txt'",
               (st.st_size, st.st_size, st.st_mtime_ns))
    db.commit()
    db.close()
    with mounted(str(cat), str(tmp / "mnt")) as m:
        e = read_errno(os.path.join(m.path, "app", "a.txt"))
        assert e in (errno.EIO, errno.EACCES), e
        time.sleep(0.2)
        assert needle in m.stderr(), m.stderr()


@needs_mount
def test_folder_symlink_inside_root_leading_out(good):
    tmp, src, cat = good
    os.symlink("/etc", src / "etc")
    st = os.stat("/etc/hostname")
    db = sqlite3.connect(cat)
    db.execute("UPDATE tree SET source = ?, size = ?, src_size = ?, src_mtime_ns = ?, sha256 = NULL"
               " WHERE path = 'app/a.txt'", (str(src / "etc" / "hostname"), st.st_size, st.st_size, st.st_mtime_ns))
    db.commit()
    db.close()
    with mounted(str(cat), str(tmp / "mnt")) as m:
        assert read_errno(os.path.join(m.path, "app", "a.txt")) == errno.EACCES
        time.sleep(0.2)
        assert "outside the catalog's source roots" in m.stderr(), m.stderr()


# ---- real catalogs: roots declared by pfanalyze, version 1 migrated ---------------

PFANALYZE = os.path.join(BUILD, "analyzer", "pfanalyze")


@pytest.mark.skipif(not os.path.exists(PFANALYZE) or not os.path.exists("/usr/bin/python3"),
                    reason="needs built pfanalyze and Debian's python3")
def test_pfanalyze_catalog_declares_roots_and_v1_is_migrated(tmp_path):
    app = tmp_path / "app" / "hello.py"
    app.parent.mkdir()
    app.write_text("import json, ssl\nprint(json.dumps([1, 2]))\n")
    cat = tmp_path / "real.db"
    r = subprocess.run([PFANALYZE, "-c", str(cat), "--", "/usr/bin/python3", str(app)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr

    def roots_and_sources():
        db = sqlite3.connect(cat)
        try:
            ver = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
            roots = [p for (p,) in db.execute("SELECT path FROM roots")]
            sources = [s for (s,) in db.execute("SELECT source FROM tree WHERE source IS NOT NULL")]
            return ver, roots, sources
        finally:
            db.close()

    ver, roots, sources = roots_and_sources()
    assert ver == "2" and roots and sources
    for s in sources:  # every source under a declared root (what the validation checks too)
        assert any(s == r or s.startswith(r.rstrip("/") + "/") for r in roots), s
    assert not any(r in ("/", "/etc", "/usr", "/tmp") for r in roots), roots
    # downgraded to version 1: refused for serving, upgraded by pfanalyze
    db = sqlite3.connect(cat)
    db.execute("DROP TABLE roots")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()
    refuses(cat, "declares no source roots", tools=("pfmount",))
    r = subprocess.run([PFANALYZE, "-c", str(cat), "--reanalyze"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    ver, roots2, _ = roots_and_sources()
    assert ver == "2" and set(roots2) == set(roots)
    if CAN_MOUNT:
        with mounted(str(cat), str(tmp_path / "mnt")) as m:
            db = sqlite3.connect(cat)
            path, source = db.execute("SELECT path, source FROM tree WHERE source IS NOT NULL AND"
                                      " patch IS NULL ORDER BY size DESC LIMIT 1").fetchone()
            db.close()
            assert open(os.path.join(m.path, path), "rb").read() == open(source, "rb").read()
