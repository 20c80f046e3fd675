"""Bad input: one clear line naming the file and the reason, a non-zero
exit, nothing half-written (the catalog is byte-identical afterwards)."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pyfarm_testlib import analyze

DEB_PY = "/usr/bin/python3"


def tool(name):
    sub = {"pfanalyze": "analyzer", "pfexport": "tools", "pfmount": "fs"}[name]
    return os.path.join(os.environ["PYFARM_BUILD"], sub, name)


def run(*argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


def one_line_error(r, *needles):
    assert r.returncode != 0, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert str(n) in lines[0], lines[0]
    return lines[0]


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def good_catalog(tmp_path):
    app = tmp_path / "hello.py"
    app.write_text("import json\nprint(json.dumps([1, 2]))\n")
    cat = tmp_path / "good.db"
    analyze(cat, [DEB_PY, str(app)])
    return cat


def test_command_does_not_exist(tmp_path):
    cat = tmp_path / "c.db"
    one_line_error(run(tool("pfanalyze"), "-c", cat, "--", "/nonexistent/prog"), "/nonexistent/prog",
                   "not found")
    assert not cat.exists()


def test_command_not_traced(tmp_path):
    cat = tmp_path / "c.db"
    one_line_error(run(tool("pfanalyze"), "-c", cat, "--", "true"), "no Python process")
    assert not cat.exists()


def test_not_a_catalog(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    for argv in ([tool("pfanalyze"), "-c", junk, "--", DEB_PY, "-c", "pass"],
                 [tool("pfexport"), junk, tmp_path / "out"]):
        one_line_error(run(*argv), junk, "not a pyfarm catalog")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("create table t(x)")
    one_line_error(run(tool("pfexport"), other, tmp_path / "out"), other, "not a pyfarm catalog")
    assert not (tmp_path / "out").exists()


def test_newer_schema(tmp_path, good_catalog):
    newer = tmp_path / "newer.db"
    shutil.copy(good_catalog, newer)
    with sqlite3.connect(newer) as db:
        db.execute("update meta set value='999' where key='schema_version'")
    h = digest(newer)
    one_line_error(run(tool("pfexport"), newer, tmp_path / "out"), newer, "newer")
    one_line_error(run(tool("pfanalyze"), "-c", newer, "--", DEB_PY, "-c", "pass"), newer, "newer")
    assert digest(newer) == h


def test_existing_dir(tmp_path, good_catalog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    one_line_error(run(tool("pfexport"), good_catalog, out), out, "exists")
    assert (out / "keep.txt").read_text() == "mine" and len(list(out.iterdir())) == 1
    r = run(tool("pfexport"), "--force", good_catalog, out)
    assert r.returncode == 0, r.stderr
    assert (out / "run.sh").exists() and not (out / "keep.txt").exists()
    assert not list(tmp_path.glob("out.tmp-*")) and not list(tmp_path.glob("out.old-*"))


def test_traced_file_vanished(tmp_path):
    pkg = tmp_path / "src"
    pkg.mkdir()
    (pkg / "helper.py").write_text("VALUE = 3\n")
    (pkg / "app.py").write_text("import sys\nsys.path.insert(0, sys.argv[1])\nimport helper\nprint(helper.VALUE)\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.move(str(pkg / "helper.py"), extra / "helper.py")
    cat = tmp_path / "v.db"
    analyze(cat, [DEB_PY, str(pkg / "app.py"), str(extra)])
    h = digest(cat)
    (extra / "helper.py").unlink()
    one_line_error(run(tool("pfanalyze"), "-c", cat, "--reanalyze"), extra / "helper.py", "vanished")
    assert digest(cat) == h


def test_corrupt_elf(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("print('hi')\n")
    # an ELF header that lies: the app folder's binaries are part of the dist
    (app / "broken.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x03\x00\x3e\x00" + b"\xff" * 40)
    cat = tmp_path / "c.db"
    one_line_error(run(tool("pfanalyze"), "-c", cat, "--", DEB_PY, app / "app.py"),
                   app / "broken.so")
    assert not cat.exists()


def test_needed_resolves_nowhere(tmp_path):
    d = tmp_path / "libs"
    d.mkdir()
    (d / "gone.c").write_text("int gone(void) { return 7; }\n")
    (d / "needs.c").write_text("int gone(void);\nint needs(void) { return gone() * 6; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", d / "libgone.so", d / "gone.c"], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", d / "libneeds.so", d / "needs.c", "-L", d, "-lgone",
                    "-Wl,-rpath,$ORIGIN"], check=True)
    app = tmp_path / "app.py"
    app.write_text(f"import ctypes\nprint(ctypes.CDLL('{d}/libneeds.so').needs())\n")
    cat = tmp_path / "n.db"
    analyze(cat, [DEB_PY, str(app)])
    h = digest(cat)
    (d / "libgone.so").unlink()
    line = one_line_error(run(tool("pfanalyze"), "-c", cat, "--reanalyze"), "libgone.so", "libneeds.so")
    assert "resolves nowhere" in line
    assert digest(cat) == h
    r = run(tool("pfanalyze"), "-c", cat, "--reanalyze", "--allow-missing")
    assert r.returncode == 0 and "libgone.so" in r.stderr, r.stderr
