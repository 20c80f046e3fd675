"""The accounted-for check: each class of traced item (module, mapped
object, program, data file) broken on purpose, through the testing hook
PYFARM_DEBUG_DROP and through real breakages, must fail the analysis with
one line naming the item (status 1, the catalog as it was); --allow-missing
makes them warnings (status 0); the options that leave items out are
honoured. Also pfanalyze's exit statuses, and glibc-hwcaps builds replaced
by their baseline."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pyfarm_testlib import analyze, export, reanalyze, run_empty_root, tool

APPS = Path(__file__).resolve().parent.parent / "apps"
DEB_PY = "/usr/bin/python3"


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def unaccounted(stderr):
    return [line for line in stderr.splitlines() if line.startswith("pfanalyze: not accounted for:")]


def counts(stderr):
    """The summary's figures: {'modules': n, 'mapped objects': n, ...}."""
    line = next(line for line in stderr.splitlines() if line.startswith("pfanalyze: accounted for:"))
    parts = line.split(":", 2)[2].split("(")[0].split(",")
    return {p.strip().split(" ", 1)[1]: int(p.strip().split(" ", 1)[0]) for p in parts}


def warnings(cat):
    with sqlite3.connect(cat) as db:
        return [m for (m,) in db.execute("select message from warnings")]


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """The accounted app, traced once (hermetic mode): its catalog, output."""
    tmp = tmp_path_factory.mktemp("acct")
    app = tmp / "app"
    shutil.copytree(APPS / "accounted", app)
    argv = [DEB_PY, str(app / "app.py")]
    want = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cat = tmp / "a.db"
    r = analyze(cat, argv)
    return cat, want, r.stderr


def test_every_class_is_verified_and_the_dist_runs(traced, tmp_path):
    cat, want, stderr = traced
    assert not unaccounted(stderr), stderr
    c = counts(stderr)
    # helper, lzma, ssl and their stdlib imports; _lzma/_ssl and liblzma/libssl; xz; openssl.cnf
    assert c["modules"] >= 10 and c["mapped objects"] >= 4, c
    assert c["programs"] >= 1 and c["data files"] >= 1, c
    dist = tmp_path / "dist"
    export(cat, dist)
    r = run_empty_root(dist, ["/dist/run"])
    assert r.returncode == 0 and r.stdout == want, r.stderr


DROPS = [
    # (what the hook takes out of the plan, what the failure line must name)
    ("app/helper.py", "module helper ("),
    ("python/lib/python3.*/lzma.py", "module lzma ("),
    ("python/lib/python3.*/lib-dynload/_ssl.*", "module _ssl ("),
    ("lib/liblzma.so*", "mapped object /usr/lib/x86_64-linux-gnu/liblzma.so"),
    ("libexec/bin/xz", "program /usr/bin/xz"),
    ("data/usr/lib/ssl/openssl.cnf", "data file /usr/lib/ssl/openssl.cnf"),
]


@pytest.mark.parametrize("glob,named", DROPS, ids=[d[0] for d in DROPS])
def test_hook_breaks_each_class_and_the_check_catches_it(traced, tmp_path, glob, named):
    cat0, _, _ = traced
    cat = tmp_path / "a.db"
    shutil.copy(cat0, cat)
    before = digest(cat)
    env = dict(os.environ, PYFARM_DEBUG_DROP=glob)
    r = subprocess.run([tool("pfanalyze"), "-c", str(cat), "--reanalyze"], capture_output=True,
                       text=True, env=env)
    lines = unaccounted(r.stderr)
    assert r.returncode == 1, r.stderr
    assert any(named in line for line in lines), r.stderr
    assert "PYFARM_DEBUG_DROP" in r.stderr  # the hook says what it took out
    assert digest(cat) == before, "a failed analysis leaves the catalog as it was"
    r = subprocess.run([tool("pfanalyze"), "-c", str(cat), "--reanalyze", "--allow-missing"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert not unaccounted(r.stderr)
    assert any(named in w for w in warnings(cat)), warnings(cat)


def test_hook_drops_nothing_it_does_not_match(traced, tmp_path):
    cat = tmp_path / "a.db"
    shutil.copy(traced[0], cat)
    env = dict(os.environ, PYFARM_DEBUG_DROP="no/such/path/*")
    r = subprocess.run([tool("pfanalyze"), "-c", str(cat), "--reanalyze"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0 and not unaccounted(r.stderr), r.stderr


@pytest.fixture
def broken_app(tmp_path):
    """An app whose trace holds three items no dist can have as traced: a
    module loaded from outside sys.path, a data file read from /etc, and
    an executed shell script."""
    app, other = tmp_path / "app", tmp_path / "elsewhere"
    app.mkdir()
    other.mkdir()
    (other / "plugin.py").write_text("VALUE = 42\n")
    (app / "app.py").write_text(
        "import importlib.util, os, subprocess, sys\n"
        "spec = importlib.util.spec_from_file_location('plugin', os.path.join(\n"
        "    os.path.dirname(os.path.abspath(__file__)), '..', 'elsewhere', 'plugin.py'))\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['plugin'] = m\n"
        "spec.loader.exec_module(m)\n"
        "print('plugin', m.VALUE)\n"
        "print(len(open('/etc/debian_version').read()) > 0)\n"
        "print(subprocess.run(['ldd', '--version'], capture_output=True, text=True).stdout.split()[0])\n")
    return [DEB_PY, str(app / "app.py")]


REAL = ["module plugin (", "data file /etc/debian_version", "program /usr/bin/ldd"]


@pytest.mark.skipif(not os.path.exists("/etc/debian_version"), reason="needs a Debian host file")
def test_real_breakages_fail_loudly(tmp_path, broken_app):
    cat = tmp_path / "b.db"
    r = analyze(cat, broken_app, check=False)
    lines = unaccounted(r.stderr)
    assert r.returncode == 1, r.stderr
    for named in REAL:
        assert len([line for line in lines if named in line]) == 1, (named, r.stderr)
    assert "the analysis holds its trace" not in r.stderr
    assert not cat.exists(), "nothing half-written"
    r = analyze(cat, broken_app, "--allow-missing")
    assert not unaccounted(r.stderr)
    ws = warnings(cat)
    for named in REAL:
        assert any(named in w for w in ws), (named, ws)


@pytest.mark.skipif(not os.path.exists("/etc/debian_version"), reason="needs a Debian host file")
def test_options_account_for_what_they_leave_out(tmp_path, broken_app):
    cat = tmp_path / "b.db"
    r = analyze(cat, broken_app, "--exclude-module", "plugin", "--exclude-file",
                "data/etc/debian_version", "--exclude-file", "bin/ldd")
    assert not unaccounted(r.stderr), r.stderr
    assert not [w for w in warnings(cat) if "not accounted" in w]


def test_exit_statuses(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import sys\nsys.exit(int(sys.argv[1]))\n")
    # 3: analyzed, the app failed (the catalog holds the run)
    cat = tmp_path / "s.db"
    r = analyze(cat, [DEB_PY, str(app), "5"], check=False)
    assert r.returncode == 3 and cat.exists(), r.stderr
    assert "exited with status 5" in r.stderr
    # 1: the analysis failed, whatever the app's status
    cat2 = tmp_path / "f.db"
    r = analyze(cat2, [DEB_PY, str(app), "5"], "--include-module", "no_such_module_xyz",
                check=False)
    assert r.returncode == 1 and not cat2.exists(), r.stderr
    r = analyze(cat2, [DEB_PY, str(app), "0"], "--include-module", "no_such_module_xyz",
                check=False)
    assert r.returncode == 1, r.stderr
    # 0: both went well; --reanalyze too
    r = analyze(cat2, [DEB_PY, str(app), "0"])
    assert r.returncode == 0
    assert reanalyze(cat2).returncode == 0
    # 2: usage; 127: no such command
    r = subprocess.run([tool("pfanalyze"), "--no-such-option"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([tool("pfanalyze"), "-c", str(tmp_path / "n.db"), "--", "/nonexistent/x"],
                       capture_output=True, text=True)
    assert r.returncode == 127


def cpu_has_v3():
    r = subprocess.run(["/lib64/ld-linux-x86-64.so.2", "--help"], capture_output=True, text=True)
    return "x86-64-v3 (supported, searched)" in r.stdout


@pytest.mark.skipif(not cpu_has_v3(), reason="this CPU has no x86-64-v3: the loader would not "
                    "pick the hwcaps build, so there is nothing to replace")
@pytest.mark.parametrize("glibc,where", [("bundle", "app"), ("host", "app"), ("bundle", "vendor")])
def test_hwcaps_build_is_replaced_by_its_baseline(tmp_path, glibc, where):
    """libwrap.so (RUNPATH $ORIGIN/lib) needs libhw.so.1, built twice: a
    baseline in lib/ and an x86-64-v3 build in lib/glibc-hwcaps/x86-64-v3/,
    which the loader prefers on this CPU. Inside the app folder (walked
    whole) or outside it (a vendor folder the app loads by path)."""
    app = tmp_path / "app"
    app.mkdir()
    home = app if where == "app" else tmp_path / "vendor"
    lib = home / "lib"
    v3 = lib / "glibc-hwcaps" / "x86-64-v3"
    v3.mkdir(parents=True)
    src = tmp_path / "hw.c"
    src.write_text("int level(void) { return LEVEL; }\n")
    for d, level, flags in ((lib, 1, []), (v3, 3, ["-march=x86-64-v3"])):
        subprocess.run(["gcc", "-shared", "-fPIC", f"-DLEVEL={level}", *flags,
                        "-Wl,-soname,libhw.so.1", "-o", str(d / "libhw.so.1"), str(src)], check=True)
    wrap = tmp_path / "wrap.c"
    wrap.write_text("int level(void);\nint which(void) { return level(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(home / "libwrap.so"), str(wrap),
                    "-L", str(lib), "-l:libhw.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib"],
                   check=True)
    target = ("os.path.join(os.path.dirname(os.path.abspath(__file__)), 'libwrap.so')"
              if where == "app" else repr(str(home / "libwrap.so")))
    (app / "app.py").write_text(f"import ctypes, os\nw = ctypes.CDLL({target})\n"
                                "print('level', w.which())\n")
    argv = [DEB_PY, str(app / "app.py")]
    assert subprocess.run(argv, capture_output=True, text=True, check=True).stdout == "level 3\n"
    cat = tmp_path / "h.db"
    r = analyze(cat, argv, "--glibc", glibc)
    assert not unaccounted(r.stderr), r.stderr
    ws = [w for w in warnings(cat) if "glibc-hwcaps/x86-64-v3" in w]
    assert len(ws) == 1 and "baseline" in ws[0] and str(lib / "libhw.so.1") in ws[0], warnings(cat)
    assert "baseline build" in r.stderr
    with sqlite3.connect(cat) as db:
        srcs = [s for (s,) in db.execute("select source from tree where source like '%libhw%'")]
    assert srcs and all("glibc-hwcaps" not in s for s in srcs), srcs
    if where == "vendor":
        return  # the app loads libwrap by its absolute path: here the dist would load the original
    dist = tmp_path / "dist"
    export(cat, dist)
    # the dist runs the baseline build although this CPU has v3
    r = subprocess.run([str(dist / "run.sh")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "level 1\n", r.stderr


def test_hwcaps_build_without_baseline_is_kept_and_named(tmp_path):
    if not cpu_has_v3():
        pytest.skip("this CPU has no x86-64-v3: the loader would not pick the hwcaps build")
    app = tmp_path / "app"
    v3 = app / "lib" / "glibc-hwcaps" / "x86-64-v3"
    v3.mkdir(parents=True)
    src = tmp_path / "hw.c"
    src.write_text("int level(void) { return 3; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-march=x86-64-v3", "-Wl,-soname,libhw.so.1",
                    "-o", str(v3 / "libhw.so.1"), str(src)], check=True)
    wrap = tmp_path / "wrap.c"
    wrap.write_text("int level(void);\nint which(void) { return level(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(app / "libwrap.so"), str(wrap),
                    "-L", str(v3), "-l:libhw.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib"],
                   check=True)
    (app / "app.py").write_text(
        "import ctypes, os\n"
        "w = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'libwrap.so'))\n"
        "print('level', w.which())\n")
    cat = tmp_path / "h.db"
    r = analyze(cat, [DEB_PY, str(app / "app.py")])
    assert not unaccounted(r.stderr), r.stderr
    assert any("only a glibc-hwcaps build exists" in w for w in warnings(cat)), warnings(cat)


def test_mp_main_alias_never_passes_silently(tmp_path):
    """A class seen in the wild: the parent records its entry as __mp_main__
    (multiprocessing's alias), the importer graph rooted at the alias drops
    what __main__ imported. Whatever the closure does, the analysis must
    either hold numpy and give a dist that runs, or fail naming it."""
    pytest.importorskip("numpy")
    app = tmp_path / "app"
    shutil.copytree(APPS / "mpalias", app)
    argv = [DEB_PY, str(app / "app.py")]
    want = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert "alias True" in want  # the trap is armed
    cat = tmp_path / "m.db"
    r = analyze(cat, argv, check=False)
    if r.returncode == 1:
        assert any("module numpy (" in line for line in unaccounted(r.stderr)), r.stderr
        assert not cat.exists()
        return
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(cat) as db:
        assert db.execute("select count(*) from tree where path like "
                          "'site-packages/%/numpy/__init__.py'").fetchone()[0] == 1
    dist = tmp_path / "dist"
    export(cat, dist)
    r = run_empty_root(dist, ["/dist/run"])
    assert r.returncode == 0 and r.stdout == want, r.stderr


@pytest.mark.parametrize("opts,gone", [
    (["--exclude-module", "helper"], "app/helper.py"),
    (["--exclude-lib", "liblzma.so*"], "lib/liblzma.so.5"),
    (["--exclude-file", "data/usr/lib/ssl/*"], "data/usr/lib/ssl/openssl.cnf"),
], ids=["exclude-module", "exclude-lib", "exclude-file"])
def test_user_exclusions_are_accounted_for(traced, tmp_path, opts, gone):
    cat = tmp_path / "a.db"
    shutil.copy(traced[0], cat)
    r = reanalyze(cat, *opts)
    assert not unaccounted(r.stderr), r.stderr
    with sqlite3.connect(cat) as db:
        paths = {p for (p,) in db.execute("select path from tree")}
    if opts[0] != "--exclude-module":  # the app's folder comes whole: helper.py stays in it
        assert gone not in paths


def test_exclude_dist_is_accounted_for(tmp_path, tox_envs):
    env_a = tox_envs[0]
    app = tmp_path / "app.py"
    app.write_text("import six\nprint(six.__version__)\n")
    cat = tmp_path / "d.db"
    r = analyze(cat, [f"{env_a}/bin/python", str(app)], "--exclude-dist", "six")
    assert not unaccounted(r.stderr), r.stderr
    with sqlite3.connect(cat) as db:
        assert not db.execute("select path from tree where path like '%/six.py'").fetchall()
    cat2 = tmp_path / "d2.db"
    shutil.copy(cat, cat2)
    env = dict(os.environ, PYFARM_DEBUG_DROP="site-packages/*/six.py")
    r = subprocess.run([tool("pfanalyze"), "-c", str(cat2), "--reanalyze"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 1 and any("module six (" in line for line in unaccounted(r.stderr)), \
        r.stderr
