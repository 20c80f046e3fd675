"""Forcing things in and out of a dist, and the launcher passing exit
status and signals through."""
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from pyfarm_testlib import analyze, export, run_isolated, tool

DEB_PY = "/usr/bin/python3"


def paths(cat):
    with sqlite3.connect(cat) as db:
        return {p for (p,) in db.execute("select path from tree")}


def test_include_module_file_and_exclude(tmp_path, tox_envs):
    env_a = tox_envs[0]
    app = tmp_path / "app.py"
    app.write_text("print('hello')\n")
    extra = tmp_path / "notes.txt"
    extra.write_text("kept\n")
    cat = tmp_path / "o.db"
    analyze(cat, [f"{env_a}/bin/python", str(app)], "--include-module", "six",
            "--include-file", f"{extra}=share/notes.txt", "--exclude-file", "python/lib/python3.*/email/*")
    ps = paths(cat)
    assert any(p.endswith("/six.py") for p in ps) and any("six-1.15.0.dist-info" in p for p in ps)
    assert "share/notes.txt" in ps
    assert not [p for p in ps if "/email/" in p]
    dist = tmp_path / "dist"
    export(cat, dist)
    r = run_isolated(dist, ["/dist/python/bin/python", "-c", "import six; print(six.__version__)"])
    assert r.returncode == 0 and r.stdout.strip() == "1.15.0", r.stderr
    assert (dist / "share" / "notes.txt").read_text() == "kept\n"


def test_include_module_that_does_not_exist(tmp_path):
    cat = tmp_path / "n.db"
    r = analyze(cat, [DEB_PY, "-c", "pass"], "--include-module", "no_such_module_xyz", check=False)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode != 0 and len(lines) == 1 and "no_such_module_xyz" in lines[0], r.stderr
    assert not cat.exists()


def test_exit_status_and_signals_pass_through_the_launcher(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import sys, time\nif sys.argv[1] == 'exit': sys.exit(int(sys.argv[2]))\n"
                   "print('ready', flush=True)\ntime.sleep(60)\n")
    cat = tmp_path / "s.db"
    analyze(cat, [DEB_PY, str(app), "exit", "0"])
    dist = tmp_path / "dist"
    export(cat, dist)
    assert subprocess.run([str(dist / "run"), "exit", "3"]).returncode == 3
    assert subprocess.run([str(dist / "run.sh"), "exit", "5"]).returncode == 5
    p = subprocess.Popen([str(dist / "run"), "sleep"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == -signal.SIGTERM


def test_entry_environment_is_taken_when_children_use_another(tmp_path, tox_envs):
    env_a = tox_envs[0]
    app = tmp_path / "app.py"
    app.write_text("import subprocess, six\nprint(six.__version__)\n"
                   "subprocess.run(['/usr/bin/python3', '-c', 'import json'], check=True)\n")
    cat = tmp_path / "e.db"
    r = analyze(cat, [f"{env_a}/bin/python", str(app)])
    assert "analyzing the entry's environment" in r.stderr and str(env_a) in r.stderr, r.stderr
    assert "another Python environment's interpreter; not bundled" in r.stderr, r.stderr
    with sqlite3.connect(cat) as db:
        assert db.execute("select value from meta where key='env'").fetchone()[0] == str(env_a)
    dist = tmp_path / "dist"
    export(cat, dist)
    assert not list((dist / "bin").glob("python*")) if (dist / "bin").exists() else True
    r = run_isolated(dist, ["/dist/run.sh"])  # the other environment is not there: it fails there
    assert r.stdout.startswith("1.15.0") and r.returncode != 0, r.stdout + r.stderr
