"""The tracer (analyzer/tracer/sitecustomize.py and libpfpreload.so) on
real processes: what it records, in every kind of child, written as it goes
so that abrupt ends lose nothing, and without touching the environment."""
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from pyfarm_testlib import BUILD, REPO, analyze, export, run_isolated, tree_hash
from trace_records import kinds, records

TRACER = REPO / "analyzer" / "tracer"
PRELOAD = BUILD / "analyzer" / "libpfpreload.so"
DEB_PY = "/usr/bin/python3"


def traced_env(trace_dir, extra_path=()):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TRACER), *map(str, extra_path)])
    env["PYFARM_TRACE_DIR"] = str(trace_dir)
    env["LD_PRELOAD"] = str(PRELOAD)
    return env


def run_traced(tmp_path, code, *args, python=DEB_PY, extra_path=(), check=True, **kw):
    trace = tmp_path / "trace"
    trace.mkdir(exist_ok=True)
    script = tmp_path / "prog.py"
    script.write_text(code)
    r = subprocess.run([python, str(script), *args], env=traced_env(trace, extra_path),
                       capture_output=True, text=True, timeout=300, **kw)
    if check:
        assert r.returncode == 0, r.stderr
    return r, records(trace), records(trace, "c-")


PROG = r'''
import ctypes, json, multiprocessing as mp, os, subprocess, sys
sys.path.insert(0, sys.argv[1])            # a zip file
sys.path.insert(0, sys.argv[2])            # holds a namespace package
import zmod, nspkg.leaf, _decimal
ctypes.CDLL("libz.so.1")
subprocess.run([sys.executable, "-c", "import colorsys"], check=True)
subprocess.run(["xz", "--version"], capture_output=True, check=True)

def work(x):
    import fractions                       # only ever imported in the workers
    return x

if __name__ == "__main__":
    for method in ("fork", "spawn", "forkserver"):
        with mp.get_context(method).Pool(2) as p:
            p.map(work, range(4))
    pid = os.fork()
    if pid == 0:
        import wave
        os._exit(0)
    os.waitpid(pid, 0)
    print(json.dumps(sys.path))
'''


def test_what_is_recorded_in_every_kind_of_child(tmp_path):
    z = tmp_path / "mods.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("zmod.py", "X = 1\n")
    ns = tmp_path / "nsroot"
    (ns / "nspkg").mkdir(parents=True)
    (ns / "nspkg" / "leaf.py").write_text("Y = 2\n")
    r, py, c = run_traced(tmp_path, PROG, str(z), str(ns))
    # the app's sys.path does not show the tracer
    assert str(TRACER) not in r.stdout
    main = next(lines for lines in py.values() if ["script", str(tmp_path / "prog.py")] in kinds(lines, "E"))
    mods = {m[0]: m for m in kinds(main, "M")}
    assert mods["json"][2] == "source" and mods["_decimal"][2] == "extension"
    assert mods["zmod"][2] == "zip" and mods["zmod"][1].startswith(str(z))
    assert mods["nspkg"][2] == "namespace" and [m[1] for m in kinds(main, "N") if m[0] == "nspkg"]
    assert mods["json"][3] == "__main__"  # imported by the script itself
    assert "libz.so.1" in [d[0] for d in kinds(main, "D")]
    assert any(o[0].split("/")[-1].startswith("libz.so.1") for o in kinds(main, "O"))
    assert "/usr/bin/xz" in [x[0] for x in kinds(main, "X")]
    # the subprocess of sys.executable, the pool workers and the fork child
    alls = [{m[0] for m in kinds(lines, "M")} for lines in py.values()]
    assert any("colorsys" in m for m in alls)
    workers = [m for m in alls if "fractions" in m]
    assert len(workers) >= 3, f"{len(workers)} worker records with fractions"  # >= 1 per pool
    assert any("wave" in m for m in alls)  # fork child leaving through os._exit
    assert len(py) >= 9
    # native code: the shim saw xz run and the zip file opened
    assert any(x[0] == "/usr/bin/xz" for lines in c.values() for x in kinds(lines, "X"))
    assert any(f[0] == str(z) for lines in c.values() for f in kinds(lines, "F"))


def test_sigterm_and_os_exit_keep_what_was_written(tmp_path):
    code = "import sys, time, wave\nprint('ready', flush=True)\ntime.sleep(60)\n"
    trace = tmp_path / "trace"
    trace.mkdir()
    (tmp_path / "prog.py").write_text(code)
    p = subprocess.Popen([DEB_PY, str(tmp_path / "prog.py")], env=traced_env(trace),
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == -signal.SIGTERM  # the default action still happens
    (lines,) = records(trace).values()
    assert "wave" in {m[0] for m in kinds(lines, "M")}
    assert ["signal"] in kinds(lines, "Z")


def test_many_processes_at_once_write_whole_records(tmp_path):
    code = ("import subprocess, sys\n"
            "ps = [subprocess.Popen([sys.executable, '-c', 'import email.parser, zlib']) for _ in range(32)]\n"
            "assert all(p.wait() == 0 for p in ps)\n")
    r, py, c = run_traced(tmp_path, code)
    assert len(py) == 33  # records() checks every line of every file
    assert sum("email.parser" in {m[0] for m in kinds(lines, "M")} for lines in py.values()) == 32


def test_chain_loads_the_environments_sitecustomize(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITECUSTOMIZE'] = 'ran'\n")
    code = "import os, sys\nprint(os.environ.get('OWN_SITECUSTOMIZE'), sys.modules['sitecustomize'].__file__)\n"
    r, py, _ = run_traced(tmp_path, code, extra_path=[own])
    ran, path = r.stdout.split()
    assert ran == "ran" and path == str(own / "sitecustomize.py")
    # Debian's own /usr/lib/python3.11/sitecustomize.py when nothing else is there
    r, py, _ = run_traced(tmp_path, "import sys\nprint(sys.modules['sitecustomize'].__file__)\n")
    if os.path.exists("/usr/lib/python3.11/sitecustomize.py"):
        assert r.stdout.strip() == "/usr/lib/python3.11/sitecustomize.py"


def test_sys_path_is_the_untraced_one(tmp_path):
    code = "import json, sys\nprint(json.dumps(sys.path[1:]))\n"
    script = tmp_path / "p.py"
    script.write_text(code)
    plain = subprocess.run([DEB_PY, str(script)], capture_output=True, text=True, check=True).stdout
    r, _, _ = run_traced(tmp_path, code)
    assert r.stdout == plain


def test_pytest_xdist_run(tmp_path, venv_xdist):
    import shutil
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
