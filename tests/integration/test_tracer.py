"""The tracer (analyzer/tracer/sitecustomize.py and libpfpreload.so) on
real processes: what it records, in every kind of child, written as it goes
so that abrupt ends lose nothing, and without touching the environment.

Binaries: $PYFARM_BUILD (default build/) analyzer/libpfpreload.so; when it
is not built there, preload.c is compiled into a temporary folder."""
import json
import os
import shutil
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest

from pyfarm_testlib import BUILD, PYENV_PYTHON, REPO, analyze, export, run_isolated, tree_hash
from trace_records import BadRecord, kinds, last_syspath, one, parse, records

TRACER = REPO / "analyzer" / "tracer"
DEB_PY = "/usr/bin/python3"
PYTHONS = [p for p in (DEB_PY, PYENV_PYTHON) if os.path.exists(p)]


@pytest.fixture(scope="session")
def preload(tmp_path_factory):
    built = BUILD / "analyzer" / "libpfpreload.so"
    if built.exists():
        return built
    out = tmp_path_factory.mktemp("preload") / "libpfpreload.so"
    subprocess.run(["gcc", "-std=c17", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-O2",
                    "-fPIC", "-shared", "-fvisibility=hidden", "-o", str(out),
                    str(REPO / "analyzer" / "preload.c"), "-ldl"], check=True)
    return out


@pytest.fixture
def tracer_dir(tmp_path):
    """A copy of the tracer, as pfanalyze writes one per run."""
    d = tmp_path / "tracer"
    d.mkdir()
    shutil.copy(TRACER / "sitecustomize.py", d)
    return d


def traced_env(trace_dir, tracer, preload, extra_path=(), base=None):
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(tracer), *map(str, extra_path)])
    env["PYFARM_TRACE_DIR"] = str(trace_dir)
    env["LD_PRELOAD"] = str(preload)
    return env


@pytest.fixture
def run_traced(tmp_path, tracer_dir, preload):
    def run(code, *args, python=DEB_PY, extra_path=(), check=True, env=None, **kw):
        trace = tmp_path / "trace"
        trace.mkdir(exist_ok=True)
        script = tmp_path / "prog.py"
        script.write_text(code)
        r = subprocess.run([python, str(script), *args],
                           env=traced_env(trace, tracer_dir, preload, extra_path, env),
                           capture_output=True, text=True, timeout=300, **kw)
        if check:
            assert r.returncode == 0, r.stderr
        return r, records(trace), records(trace, "c-")
    return run


def mods_of(lines):
    return {m[0]: m for m in kinds(lines, "M")}


PROG = r'''
import ctypes, importlib, json, multiprocessing as mp, os, subprocess, sys, types

ONLY_IN_WORKERS = {"fork": "fractions", "spawn": "difflib", "forkserver": "wave"}

def init(name):
    importlib.import_module(name)           # every worker, and only workers

def work(x):
    return os.getpid()

if __name__ == "__main__":                  # spawn workers import this file again
    sys.path.insert(0, sys.argv[1])        # a zip file
    sys.path.insert(0, sys.argv[2])        # holds a namespace package
    import zmod, nspkg.leaf, _decimal
    ctypes.CDLL("libz.so.1")
    subprocess.run([sys.executable, "-c", "import colorsys"], check=True)
    subprocess.run(["xz", "--version"], capture_output=True, check=True)
    for method, name in ONLY_IN_WORKERS.items():
        p = mp.get_context(method).Pool(2, initializer=init, initargs=(name,))
        p.map(work, range(4))
        p.close()                           # workers end on their own (no terminate)
        p.join()
    pid = os.fork()
    if pid == 0:
        import gettext                      # through the finder
        fake = types.ModuleType("pf_fake")  # bypasses it: only a snapshot sees it
        fake.__file__ = "/nonexistent/pf_fake.py"
        sys.modules["pf_fake"] = fake
        os._exit(0)
    os.waitpid(pid, 0)
    print(json.dumps(sys.path))
'''


@pytest.mark.parametrize("python", PYTHONS)
def test_what_is_recorded_in_every_kind_of_child(tmp_path, run_traced, tracer_dir, python):
    z = tmp_path / "mods.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("zmod.py", "X = 1\n")
    ns = tmp_path / "nsroot"
    (ns / "nspkg").mkdir(parents=True)
    (ns / "nspkg" / "leaf.py").write_text("Y = 2\n")
    r, py, c = run_traced(PROG, str(z), str(ns), python=python)
    # the app's sys.path does not show the tracer
    assert str(tracer_dir) not in r.stdout
    script = str(tmp_path / "prog.py")
    (main,) = [lines for lines in py.values() if ["script", script] in kinds(lines, "E")]
    assert kinds(main, "R") == [[str(z)], [str(ns)]]
    info = dict(kinds(main, "I"))
    assert info["executable"] == python and info["version"].startswith("3.11.")
    assert last_syspath(main) == json.loads(r.stdout)
    mods = mods_of(main)
    assert mods["json"][2] == "source" and mods["json"][1].endswith("/json/__init__.py")
    assert mods["_decimal"][2] == "extension" and mods["_decimal"][1].endswith(".so")
    assert mods["zmod"][2] == "zip" and mods["zmod"][1] == f"{z}/zmod.py"
    assert mods["nspkg"][2] == "namespace" and mods["nspkg"][1] == ""
    assert [n[1] for n in kinds(main, "N") if n[0] == "nspkg"] == [str(ns / "nspkg")]
    assert mods["nspkg.leaf"][1] == str(ns / "nspkg" / "leaf.py")
    assert mods["json"][3] == "__main__"  # imported by the script itself
    assert mods["json.decoder"][3] == "json"
    assert "libz.so.1" in [d[0] for d in kinds(main, "D")]
    objects = [o[0] for o in kinds(main, "O")]
    assert any(o.split("/")[-1].startswith("libz.so.1") for o in objects)
    assert mods["_decimal"][1] in objects
    assert "/usr/bin/xz" in [x[0] for x in kinds(main, "X")]
    assert python in [x[0] for x in kinds(main, "X")]
    assert one(main, "Z") == ["exit"]
    # the subprocess of sys.executable
    (child,) = [lines for lines in py.values() if "colorsys" in mods_of(lines)]
    assert one(child, "E") == ["code", ""] and int(child[0][2]) == int(main[0][1])
    # every pool worker of every start method has a record with the module
    # only the workers import; fork and forkserver workers leave through
    # os._exit (atexit never runs there), spawn workers through sys.exit
    for method, name, end in (("fork", "fractions", "os._exit"), ("spawn", "difflib", "exit"),
                              ("forkserver", "wave", "os._exit")):
        workers = [lines for lines in py.values() if name in mods_of(lines)]
        assert len(workers) == 2, (method, len(workers))
        assert all(kinds(w, "Z") == [[end]] for w in workers), method
    # the fork child that leaves through os._exit: the import and the module
    # that bypassed the finder are both there, then its Z
    (forked,) = [lines for lines in py.values() if "gettext" in mods_of(lines)]
    # (no spec, and its __file__ names no file: recorded without a file,
    # since a module may claim any __file__)
    assert mods_of(forked)["pf_fake"][1:3] == ["", "other"]
    assert kinds(forked, "Z") == [["os._exit"]]
    assert int(forked[0][2]) == int(main[0][1])
    # native code: the shim saw xz run and the zip file opened
    assert any(x[0] == "/usr/bin/xz" for lines in c.values() for x in kinds(lines, "X"))
    assert any(f[0] == str(z) for lines in c.values() for f in kinds(lines, "F"))
    for lines in c.values():
        for (path,) in kinds(lines, "F"):
            assert not path.startswith(("/proc/", "/sys/", "/dev/", f"{tmp_path}/trace/"))


CHILD_UNDER_SIGTERM = r'''
import signal, subprocess, sys, time
child = """
import signal, sys, time, wave
if sys.argv[1] == "own":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))
print("ready", flush=True)
time.sleep(60)
"""
for mode in ("default", "own"):
    p = subprocess.Popen([sys.executable, "-c", child, mode], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    print(mode, p.wait(30))
'''


@pytest.mark.parametrize("handler", ["off", "on"])
def test_sigterm_keeps_what_was_written(run_traced, handler):
    """A child killed by SIGTERM mid-run: its lines so far are whole, the
    default action still kills it, and a handler the app set is its own.
    The tracer's SIGTERM handler is off by default (see sitecustomize.py):
    with it on, the killed child also gets its final snapshot and Z."""
    env = dict(os.environ, PYFARM_TRACE_SIGTERM="1" if handler == "on" else "0")
    r, py, _ = run_traced(CHILD_UNDER_SIGTERM, env=env)
    assert r.stdout.split() == ["default", str(-signal.SIGTERM), "own", "7"]
    children = [lines for lines in py.values() if "wave" in mods_of(lines)]
    assert len(children) == 2
    zs = sorted(z for lines in children for (z,) in kinds(lines, "Z"))
    assert zs == (["exit", "signal"] if handler == "on" else ["exit"])


def test_pool_terminate_never_hangs(run_traced):
    """Pool.terminate() SIGTERMs workers that may be entering a blocking
    wait: with a Python-level SIGTERM handler that hung about 1 run in 6."""
    code = ("import multiprocessing as mp\n"
            "def f(x):\n    return x\n"
            "if __name__ == '__main__':\n"
            "    for i in range(30):\n"
            "        with mp.get_context('fork').Pool(2) as p:\n"
            "            p.map(f, range(4))\n")
    run_traced(code)


def test_many_processes_and_threads_write_whole_records(run_traced):
    code = r'''
import subprocess, sys
child = """
import threading, os, importlib
mods = ["email.parser", "zlib", "csv", "decimal", "fractions", "statistics", "tarfile", "uuid"]
ts = [threading.Thread(target=importlib.import_module, args=(m,)) for m in mods]
[t.start() for t in ts]
if os.fork() == 0:
    # a module no thread imports: a module lock another thread held at the
    # fork stays held in the child (Python's own hazard, traced or not)
    import colorsys
    os._exit(0)
[t.join() for t in ts]
os.wait()
"""
ps = [subprocess.Popen([sys.executable, "-c", child]) for _ in range(32)]
assert all(p.wait() == 0 for p in ps)
'''
    r, py, c = run_traced(code)
    assert len(py) == 1 + 32 + 32  # one each; records() checked every line of every file
    assert sum("email.parser" in mods_of(lines) for lines in py.values()) >= 32
    assert sum("colorsys" in mods_of(lines) for lines in py.values()) == 32
    assert len(c) >= 65


def test_chain_loads_the_environments_sitecustomize(tmp_path, run_traced):
    # a sitecustomize of the environment later on sys.path: it runs, as itself
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITECUSTOMIZE'] = 'ran'\n")
    code = ("import os, sys\n"
            "print(os.environ.get('OWN_SITECUSTOMIZE'), sys.modules['sitecustomize'].__file__)\n")
    r, py, _ = run_traced(code, extra_path=[own])
    ran, path = r.stdout.split()
    assert ran == "ran" and path == str(own / "sitecustomize.py")


@pytest.mark.skipif(not os.path.exists("/usr/lib/python3.11/sitecustomize.py"),
                    reason="no Debian sitecustomize")
def test_debians_sitecustomize_still_runs(tmp_path, run_traced):
    # Debian's sitecustomize imports apport_python_hook and calls install():
    # a test-made one, later on PYTHONPATH, leaves a marker when it is called
    hook = tmp_path / "hook"
    hook.mkdir()
    marker = tmp_path / "marker"
    (hook / "apport_python_hook.py").write_text(
        f"def install():\n    open({str(marker)!r}, 'w').write('installed')\n")
    code = "import sys\nprint(sys.modules['sitecustomize'].__file__)\n"
    r, py, _ = run_traced(code, extra_path=[hook])
    assert r.stdout.strip() == "/usr/lib/python3.11/sitecustomize.py"
    assert marker.read_text() == "installed"
    (main,) = py.values()
    assert "apport_python_hook" in mods_of(main)  # start-up imports are recorded too


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("how", ["script", "-m", "-c"])
def test_sys_path_and_modules_are_the_untraced_ones(tmp_path, tracer_dir, preload, python, how):
    code = "import json, sys\nprint(json.dumps([sys.path, sorted(sys.modules)]))\n"
    (tmp_path / "pfprobe.py").write_text(code)
    argv = {"script": [str(tmp_path / "pfprobe.py")], "-m": ["-m", "pfprobe"],
            "-c": ["-c", code]}[how]
    base = dict(os.environ, PYTHONPATH=str(tmp_path))
    plain = subprocess.run([python, *argv], capture_output=True, text=True, check=True,
                           env=base, cwd=tmp_path).stdout
    trace = tmp_path / "trace"
    trace.mkdir()
    env = traced_env(trace, tracer_dir, preload, [tmp_path])
    traced = subprocess.run([python, *argv], capture_output=True, text=True, check=True,
                            env=env, cwd=tmp_path).stdout
    path0, mods0 = json.loads(plain)
    path1, mods1 = json.loads(traced)
    assert path1 == path0
    # the tracer loads nothing the app would not have, but built-in atexit
    # (and itself, as `sitecustomize`, where the environment has none)
    assert set(mods1) - set(mods0) <= {"atexit", "sitecustomize"}
    (lines,) = records(trace).values()
    entry = one(lines, "E")
    assert entry == {"script": ["script", str(tmp_path / "pfprobe.py")],
                     "-m": ["module", "pfprobe"], "-c": ["code", ""]}[how]
    assert last_syspath(lines) == path0


def test_module_entry(tmp_path, run_traced):
    (tmp_path / "pfentry.py").write_text("import sys\nprint(sys.argv[1:])\n")
    code = ("import subprocess, sys\n"
            "subprocess.run([sys.executable, '-Bm', 'pfentry', 'a', '-m', 'x'], check=True,\n"
            "               cwd=sys.argv[1])\n")
    r, py, _ = run_traced(code, str(tmp_path))
    (child,) = [lines for lines in py.values() if one(lines, "E")[0] == "module"]
    assert one(child, "E") == ["module", "pfentry"]
    assert kinds(child, "R") == [["a"], ["-m"], ["x"]]


def test_preload_alone(tmp_path, preload):
    """Native programs, no Python: relative opens made absolute, PATH
    search of exec, nothing from /proc, /dev or the trace folder, and
    nothing at all without PYFARM_TRACE_DIR."""
    trace = tmp_path / "trace"
    trace.mkdir()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LD_PRELOAD": str(preload),
           "PYFARM_TRACE_DIR": str(trace)}
    sh = "cat hostname >/dev/null; cat /proc/self/status >/dev/null; exec xz --version"
    r = subprocess.run(["/bin/sh", "-c", sh], cwd="/etc", env=env, capture_output=True)
    assert r.returncode == 0
    c = records(trace, "c-")
    files = {f[0] for lines in c.values() for f in kinds(lines, "F")}
    progs = {x[0] for lines in c.values() for x in kinds(lines, "X")}
    assert "/etc/hostname" in files
    assert not [f for f in files if f.startswith(("/proc", "/dev", str(trace)))]
    assert "/usr/bin/xz" in progs and "/usr/bin/cat" in progs
    shutil.rmtree(trace)
    trace.mkdir()
    env.pop("PYFARM_TRACE_DIR")
    subprocess.run(["/bin/sh", "-c", sh], cwd="/etc", env=env, capture_output=True, check=True)
    assert not list(trace.iterdir())


def test_preload_keeps_errno(tmp_path, preload):
    """A failed open reports the real errno, a successful one leaves errno as
    it was, and a failed exec of a missing program reports ENOENT."""
    src = tmp_path / "e.c"
    src.write_text(r'''
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    errno = 1234;
    int fd = open("/etc/hostname", O_RDONLY);
    int kept = errno;
    int bad = open("/nonexistent/x", O_RDONLY);
    int enoent = errno;
    char *argv[] = {"nope", NULL};
    execvp("pf-no-such-program", argv);
    printf("%d %d %d %d %d\n", fd >= 0, kept, bad, enoent, errno);
    return 0;
}
''')
    exe = tmp_path / "e"
    subprocess.run(["gcc", "-O0", "-o", str(exe), str(src)], check=True)
    trace = tmp_path / "trace"
    trace.mkdir()
    r = subprocess.run([str(exe)], env={"LD_PRELOAD": str(preload), "PATH": "/usr/bin:/bin",
                                        "PYFARM_TRACE_DIR": str(trace)},
                       capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["1", "1234", "-1", "2", "2"]
    (lines,) = records(trace, "c-").values()
    assert ["/etc/hostname"] in kinds(lines, "F")
    assert not kinds(lines, "X")  # no program was found: nothing ran


def test_reader_enforces_escaping():
    good = "P\t1\t0\t/a\\tb\t/x\\\\y\nF\t/with\\nnewline\n"
    lines = parse(good)
    assert lines[0][3] == "/a\tb" and lines[0][4] == "/x\\y" and lines[1][1] == "/with\nnewline"
    for bad in ("P\t1\t0\t/a\\q\t/x\n", "P\t1\t0\t/a\r\t/x\n", "F\t/x\n", "P\t1\t0\t/a\n",
                "P\t1\t0\t/a\t/x\nZ\tsomething\n", "P\t1\t0\t/a\t/x\nF\t/cut"):
        with pytest.raises(BadRecord):
            parse(bad)
    assert len(parse("P\t1\t0\t/a\t/x\nF\t/cut", allow_cut=True)) == 1


def test_pytest_xdist_workers_are_traced_and_the_venv_untouched(tmp_path, venv_xdist, tracer_dir,
                                                                 preload):
    proj = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "apps" / "xdistproj", proj)
    # atexit, as the user asked: how often does it run, and where
    (proj / "conftest.py").write_text(
        "import atexit, os\n"
        "def _bye():\n"
        "    with open(os.path.join(os.path.dirname(__file__), 'atexit.log'), 'a') as f:\n"
        "        f.write(os.environ.get('PYTEST_XDIST_WORKER', 'controller') + '\\n')\n"
        "atexit.register(_bye)\n")
    py = str(Path(venv_xdist) / "bin" / "python")
    base = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    before = tree_hash(venv_xdist)
    trace = tmp_path / "trace"
    trace.mkdir()
    r = subprocess.run([py, "-m", "pytest", "-q", "-n", "4", "-p", "no:cacheprovider"],
                       cwd=proj, env=traced_env(trace, tracer_dir, preload, base=base),
                       capture_output=True, text=True, timeout=300)
    assert "16 passed" in r.stdout, r.stdout + r.stderr
    assert tree_hash(venv_xdist) == before, "the traced venv was modified"
    # atexit ran once in each worker and once in the controller
    assert sorted((proj / "atexit.log").read_text().split()) == ["controller", "gw0", "gw1",
                                                                 "gw2", "gw3"]
    py_recs = records(trace)
    workers = [lines for lines in py_recs.values() if "test_mylib" in mods_of(lines)
               and one(lines, "E") == ["code", ""]]
    assert len(workers) == 4
    for w in workers:
        assert "mylib" in mods_of(w) and "xdist" in mods_of(w) and kinds(w, "Z") == [["exit"]]
    (controller,) = [lines for lines in py_recs.values() if one(lines, "E") == ["module", "pytest"]]
    assert kinds(controller, "Z") == [["exit"]]


def test_pytest_xdist_run_through_pfanalyze(tmp_path, venv_xdist):
    if not (BUILD / "analyzer" / "pfanalyze").exists():
        pytest.skip("pfanalyze not built")
    proj = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "apps" / "xdistproj", proj)
    before = tree_hash(venv_xdist)
    cat = tmp_path / "x.db"
    py = str(Path(venv_xdist) / "bin" / "python")
    r = analyze(cat, [py, "-m", "pytest", "-q", "-n", "4", "-p", "no:cacheprovider"], cwd=proj)
    assert "16 passed" in r.stdout, r.stdout + r.stderr
    assert tree_hash(venv_xdist) == before, "the traced venv was modified"
    import sqlite3
    with sqlite3.connect(cat) as db:
        workers = db.execute(
            "select count(distinct p.id) from processes p join facts f on f.process_id = p.id "
            "where p.python = 1 and f.kind = 'M' and f.a = 'test_mylib'").fetchone()[0]
        paths = [p for (p,) in db.execute("select path from tree")]
    assert workers >= 4, workers  # every worker's record, not only the controller's
    assert "app/mylib.py" in paths
    runner = [p for p in paths if p.split("/")[-1] in ("pytest", "_pytest", "pluggy", "xdist", "execnet")
              or "/pytest" in p and p.startswith("site-packages")]
    assert not runner, runner[:5]
    dist = tmp_path / "dist"
    export(cat, dist)
    r = run_isolated(dist, ["/dist/python/bin/python", "-c", "import mylib; print(mylib.encode(3))"])
    assert r.returncode == 0 and r.stdout.strip() == '{"x": 3}', r.stderr
