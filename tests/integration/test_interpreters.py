"""Interpreters named in the user's notes, run for real: CPython 3.13 built
from Debian trixie's source package with --disable-gil (abiflags "t",
lib/python3.13t/) and an exec_prefix apart from its prefix (bin/, libpython
and lib-dynload under one folder, the stdlib under another), by
tests/build-cpython.sh, cached. An app with threads, stdlib extension
modules, its own C extension and multiprocessing is analyzed with it (from a
venv and from the base interpreter), exported, and run in an empty root (and
isolated, for a host-glibc dist; from pfmount too): the same output as the source run, the GIL
still off, lib-dynload where the relocated interpreter looks for it."""
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pyfarm_testlib import REPO, analyze, export, mounted, run_empty_root, run_isolated

APP = REPO / "tests" / "apps" / "ftapp"

# what the interpreter says about itself, paths included (compared apart)
FACTS = """
import json, os, sys, sysconfig, _decimal
dyn = next(p for p in sys.path if p.endswith("lib-dynload"))
print(json.dumps({
    "abiflags": sys.abiflags, "gil": sys._is_gil_enabled(),
    "Py_GIL_DISABLED": sysconfig.get_config_var("Py_GIL_DISABLED"),
    "EXT_SUFFIX": sysconfig.get_config_var("EXT_SUFFIX"),
    "prefix": sys.prefix, "exec_prefix": sys.exec_prefix,
    "base_prefix": sys.base_prefix, "base_exec_prefix": sys.base_exec_prefix,
    "stdlib": sysconfig.get_path("stdlib"), "platstdlib": sysconfig.get_path("platstdlib"),
    "lib_dynload": dyn, "decimal": _decimal.__file__, "os": os.__file__,
    "executable": sys.executable}))
"""


@pytest.fixture(scope="module")
def ftpython():
    """The free-threaded, split-prefix build (made once, then cached)."""
    r = subprocess.run(["bash", str(REPO / "tests" / "build-cpython.sh")], capture_output=True,
                       text=True, timeout=3 * 3600)
    if r.returncode == 2:  # the script's "cannot fetch the source here"
        pytest.skip("CPython 3.13 source not fetchable from Debian trixie here: "
                    + (r.stderr.strip().splitlines() or ["?"])[-1])
    assert r.returncode == 0, f"building CPython failed:\n{r.stderr}"
    root = Path(r.stdout.strip().splitlines()[-1])
    info = dict(line.split("=", 1) for line in (root / "build-info").read_text().splitlines())
    return info["python"]


def facts(argv):
    r = subprocess.run(argv + ["-c", FACTS], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def source_run(argv, cwd=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout


def check_app_output(out):
    """The source run did what the app is for: free-threaded, no GIL, the
    workers too."""
    assert "abiflags t Py_GIL_DISABLED 1" in out, out
    assert "gil False" in out, out
    assert out.count(", False)") == 9, out  # 3 tasks x fork/spawn/forkserver, GIL off in each
    assert "ext ftext.cpython-313t-x86_64-linux-gnu.so" in out, out


def check_dist_interpreter(dist, run):
    """The dist's interpreter, started as the app's are: free-threaded, GIL
    off, its stdlib and lib-dynload inside the dist where getpath put them."""
    r = run(dist, ["/dist/python/bin/python", "-c", FACTS])
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["abiflags"] == "t" and f["gil"] is False and f["Py_GIL_DISABLED"] == 1, f
    assert f["EXT_SUFFIX"] == ".cpython-313t-x86_64-linux-gnu.so", f
    # one prefix in the dist: the exec_prefix half (lib-dynload) merged in
    assert f["base_prefix"] == f["base_exec_prefix"] == "/dist/python", f
    assert f["stdlib"] == f["platstdlib"] == "/dist/python/lib/python3.13t", f
    assert f["os"] == "/dist/python/lib/python3.13t/os.py", f
    assert f["lib_dynload"] == "/dist/python/lib/python3.13t/lib-dynload", f
    assert f["decimal"] == f["lib_dynload"] + "/_decimal" + f["EXT_SUFFIX"], f
    assert (dist / "python" / "lib" / "python3.13t" / "lib-dynload").is_dir()
    assert not (dist / "python" / "lib" / "python3.13").exists()


def check_catalog(cat):
    """Every traced Python process saw the interpreter as it is: "t", the
    GIL off, two prefixes."""
    db = sqlite3.connect(cat)
    facts = {}
    for pid, key, value in db.execute("select process_id, a, b from facts where kind = 'I' and a in"
                                      " ('abiflags', 'gil_disabled', 'base_prefix',"
                                      " 'base_exec_prefix')"):
        facts.setdefault(pid, {})[key] = value
    db.close()
    assert len(facts) >= 4, facts  # the app, spawn workers, the forkserver (forks inherit)
    for f in facts.values():
        assert f["abiflags"] == "t" and f["gil_disabled"] == "1", f
        assert f["base_prefix"] != f["base_exec_prefix"], f


def dist_size(dist):
    return sum(p.stat().st_size for p in Path(dist).rglob("*") if p.is_file() and
               not p.is_symlink())


def test_source_build_is_free_threaded_with_split_prefix(ftpython):
    f = facts([ftpython])
    assert f["abiflags"] == "t" and f["gil"] is False and f["Py_GIL_DISABLED"] == 1, f
    assert f["prefix"] != f["exec_prefix"], f
    assert f["stdlib"].startswith(f["prefix"] + "/lib/python3.13t"), f
    assert f["lib_dynload"].startswith(f["exec_prefix"] + "/lib/python3.13t"), f
    assert Path(ftpython).parent == Path(f["exec_prefix"]) / "bin"


def test_venv_app_runs_in_empty_root(tmp_path, ftpython):
    venv = tmp_path / "venv"
    subprocess.run([ftpython, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert site.startswith(str(venv)), site
    subprocess.run([py, str(APP / "build_ext.py"), site], check=True, capture_output=True)
    argv = [py, str(APP / "app.py"), "a", "b"]
    want = source_run(argv)
    check_app_output(want)

    cat = tmp_path / "ft.db"
    analyze(cat, argv)
    check_catalog(cat)
    dist = tmp_path / "dist"
    export(cat, dist)
    assert list((dist / "site-packages").glob("p*/ftext.cpython-313t-x86_64-linux-gnu.so"))
    r = run_empty_root(dist, ["/dist/run", "a", "b"])
    assert r.returncode == 0 and r.stdout == want, r.stderr
    check_dist_interpreter(dist, run_empty_root)
    print(f"venv dist: {dist_size(dist)} bytes")
    with mounted(cat, tmp_path / "mnt") as mnt:  # the same tree served by pfmount
        r = run_empty_root(mnt, ["/dist/run", "a", "b"])
        assert r.returncode == 0 and r.stdout == want, r.stderr


def test_base_interpreter_app_runs_in_empty_root_and_on_host_glibc(tmp_path, ftpython):
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    subprocess.run([ftpython, str(app / "build_ext.py"), str(app)], check=True,
                   capture_output=True)
    argv = [ftpython, str(app / "app.py"), "c"]
    want = source_run(argv, cwd=tmp_path)
    check_app_output(want)

    for mode, run, entry in (("bundle", run_empty_root, "/dist/run"),
                             ("host", run_isolated, "/dist/run.sh")):
        cat = tmp_path / f"{mode}.db"
        analyze(cat, argv, "--glibc", mode, cwd=tmp_path)
        check_catalog(cat)
        dist = tmp_path / f"dist-{mode}"
        export(cat, dist)
        assert (dist / "app" / "ftext.cpython-313t-x86_64-linux-gnu.so").exists()
        r = run(dist, [entry, "c"])
        assert r.returncode == 0 and r.stdout == want, (mode, r.stderr)
        check_dist_interpreter(dist, run)
        print(f"{mode} dist: {dist_size(dist)} bytes")


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def test_package_in_the_exec_prefix_site_folder(tmp_path, ftpython):
    """pip puts a wheel with extension modules in platlib, which for a base
    interpreter with a split exec_prefix is EXEC_PREFIX/lib/python3.13t/
    site-packages, a second site folder beside PREFIX's. The exec_prefix
    half is copied (hard links) so the cached build stays as it is; getpath
    still finds the prefix half at its configured place."""
    exec_half = tmp_path / "exec"
    shutil.copytree(Path(ftpython).parents[1], exec_half, symlinks=True,
                    copy_function=link_or_copy)
    py = str(exec_half / "bin" / "python3.13t")
    platlib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert platlib == str(exec_half / "lib" / "python3.13t" / "site-packages"), platlib
    os.makedirs(platlib)
    subprocess.run([py, str(APP / "build_ext.py"), platlib], check=True, capture_output=True)
    app = tmp_path / "app"
    app.mkdir()
    for name in ("app.py", "worker.py"):
        shutil.copy(APP / name, app)
    argv = [py, str(app / "app.py"), "d"]
    want = source_run(argv)
    check_app_output(want)
    f = facts([py])
    assert f["exec_prefix"] == str(exec_half) and f["prefix"] != f["exec_prefix"], f

    cat = tmp_path / "x.db"
    analyze(cat, argv)
    check_catalog(cat)
    dist = tmp_path / "dist"
    export(cat, dist)
    assert list((dist / "site-packages").glob("p*/ftext.cpython-313t-x86_64-linux-gnu.so"))
    r = run_empty_root(dist, ["/dist/run", "d"])
    assert r.returncode == 0 and r.stdout == want, r.stderr
    check_dist_interpreter(dist, run_empty_root)
