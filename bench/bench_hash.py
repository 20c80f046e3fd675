#!/usr/bin/env python3
"""bench_hash.py: what hashing costs pfanalyze, side by side in one run
(a benchmark, not a test).

For the demo app (numpy + opencv-python-headless + certifi venv, the
catalog of tests/apps/cvapp), with the page cache warm:
- `pfanalyze --reanalyze` with the hash cache off, with a cold cache (a new
  cache file each run: everything hashed, then written to it) and with a
  warm one, wall and CPU time, and the files pfanalyze says it read;
- optionally the same against another pfanalyze build (for instance one
  with the former hand-written SHA-256): BENCH_OLD_PFANALYZE=/path/to/it;
- SHA-256 throughput over the same source files: libcrypto (`openssl
  dgst -sha256`, the code pfanalyze now uses) against coreutils'
  `sha256sum` (portable C without the SHA extensions, like the former
  hand-written code).

    python3 bench/bench_hash.py            (PYFARM_BUILD: default build/)
"""
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import pyfarm_testlib as lib  # noqa: E402
from conftest import CV_REQUIREMENTS  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
STATS = re.compile(r"hash: (\d+) files, (\d+) read \((\d+) bytes\), (\d+) from the cache")
ANALYSIS = re.compile(r"analysis ([0-9.]+)s")


def timed(argv, env=None):
    """Wall and CPU (user + system) seconds of one child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert r.returncode == 0, (argv, r.stderr[-2000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r


def median(runs):
    return statistics.median(w for w, _, _ in runs), statistics.median(c for _, c, _ in runs)


def row(label, *vals):
    print(f"  {label:<46}" + "".join(f"{v:>14}" for v in vals))


def reanalyze_runs(pfanalyze, cat, env_for_run):
    runs = []
    for i in range(RUNS):
        runs.append(timed([pfanalyze, "-c", str(cat), "--reanalyze"], env=env_for_run(i)))
    return runs


def read_counts(runs):
    m = STATS.search(runs[-1][2].stderr)
    return f"{m.group(2)}/{m.group(1)}" if m else "?"


def analysis_alone(runs):
    """pfanalyze's own figure for its analysis stage (no start-up, no I/O of
    the catalog's copy)."""
    vals = [float(m.group(1)) for m in (ANALYSIS.search(r.stderr) for _, _, r in runs) if m]
    return f"{statistics.median(vals):.3f}" if vals else "?"


def analysis(work, cat):
    base = dict(os.environ, PYFARM_HASH_STATS="1")
    new = lib.tool("pfanalyze")
    warm_db = work / "warm.db"
    timed([new, "-c", str(cat), "--reanalyze"], env=dict(base, PYFARM_HASH_CACHE=str(warm_db)))
    rows = {
        "cache off": reanalyze_runs(new, cat, lambda i: dict(base, PYFARM_HASH_CACHE="off")),
        "cold cache": reanalyze_runs(
            new, cat, lambda i: dict(base, PYFARM_HASH_CACHE=str(work / f"cold-{i}.db"))),
        "warm cache": reanalyze_runs(
            new, cat, lambda i: dict(base, PYFARM_HASH_CACHE=str(warm_db))),
    }
    old = os.environ.get("BENCH_OLD_PFANALYZE")
    if old:
        rows["BENCH_OLD_PFANALYZE"] = reanalyze_runs(old, cat, lambda i: base)
    print(f"\n[pfanalyze --reanalyze, median of {RUNS}]")
    row("", "wall (s)", "CPU (s)", "analysis (s)", "files read")
    for label, runs in rows.items():
        w, c = median(runs)
        row(label, f"{w:.3f}", f"{c:.3f}", analysis_alone(runs), read_counts(runs))
    off_w, off_c = median(rows["cache off"])
    for label in [k for k in rows if k != "cache off"]:
        w, c = median(rows[label])
        row(f"{label} / cache off", f"{w / off_w:.2f}x", f"{c / off_c:.2f}x")


def source_files(cat):
    with sqlite3.connect(cat) as db:
        return [s for (s,) in db.execute(
            "select distinct source from tree where type='f' and source is not null")]


def throughput(work, cat):
    files = source_files(cat)
    total = sum(os.path.getsize(f) for f in files)
    listing = work / "files.txt"
    listing.write_text("\0".join(files))
    tools = {"openssl dgst -sha256 (libcrypto)": "openssl dgst -sha256",
             "sha256sum (coreutils)": "sha256sum"}
    print(f"\n[SHA-256 over the catalog's {len(files)} source files, {total / 1e6:.0f} MB,"
          f" page cache warm, one process, median of {RUNS}]")
    row("", "wall (s)", "CPU (s)", "MB/s of CPU")
    cpu = {}
    for label, cmd in tools.items():
        argv = ["sh", "-c", f"xargs -0 {cmd} < '{listing}' > /dev/null"]
        timed(argv)
        w, c = median([timed(argv) for _ in range(RUNS)])
        cpu[label] = c
        row(label, f"{w:.3f}", f"{c:.3f}", f"{total / 1e6 / c:.0f}")
    a, b = cpu.values()
    row("libcrypto speed / coreutils speed", f"{b / a:.2f}x")


def main():
    if not shutil.which("openssl"):
        sys.exit("bench_hash: needs the openssl command")
    venv = lib.make_venv("numpy-cv", CV_REQUIREMENTS)
    work = Path(tempfile.mkdtemp(prefix="pyfarm-bench-hash-"))
    try:
        app = work / "app"
        shutil.copytree(REPO / "tests" / "apps" / "cvapp", app)
        cat = work / "demo.db"
        timed([lib.tool("pfanalyze"), "-c", str(cat), "--", str(venv / "bin" / "python"),
               str(app / "app.py")], env=dict(os.environ, PYFARM_HASH_CACHE="off"))
        print("pyfarm hashing benchmark: demo app (numpy + opencv-python-headless + certifi)")
        print(f"  machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        analysis(work, cat)
        throughput(work, cat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
