#!/usr/bin/env python3
"""bench_dist.py: the figures of a dist, measured side by side in one run
(a benchmark, not a test; root, FUSE and bwrap needed for the mount part).

For the numpy + opencv + certifi venv app of the test suite: the traced
run's overhead against the untraced run, analysis time, catalog size, dist
size and file count, export time, archive size and speed against
`tar -I 'zstd -T0'` of the same folder, start-up of the app from its venv,
from the exported folder (host and hermetic modes) and from a pfmount
mount (cold and warm), read throughput through the mount against the disk,
and pfmount's peak memory.

    python3 bench/bench_dist.py            (PYFARM_BUILD: default build/)
"""
import os
import re
import shutil
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


def drop_caches():
    subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], capture_output=True)


def timed(argv, env=None, cwd=None):
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    dt = time.perf_counter() - t
    assert r.returncode == 0, (argv, r.stderr[-2000:])
    return dt, r


def median_time(argv, runs=RUNS, **kw):
    timed(argv, **kw)  # warm
    return statistics.median(timed(argv, **kw)[0] for _ in range(runs))


def du(path):
    total = files = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                total += os.path.getsize(p)
                files += 1
    return total, files


def row(label, *vals):
    print(f"  {label:<52}" + "".join(f"{v:>16}" for v in vals))


def main():
    venv = lib.make_venv("numpy-cv", CV_REQUIREMENTS)
    py = str(venv / "bin" / "python")
    work = Path(tempfile.mkdtemp(prefix="pyfarm-bench-"))
    app = work / "app"
    shutil.copytree(REPO / "tests" / "apps" / "cvapp", app)
    script = str(app / "app.py")
    try:
        print("pyfarm benchmark: numpy + opencv-python-headless + certifi venv app")
        print(f"  runs per figure: {RUNS} (median), machine: {os.cpu_count()} cores")

        # tracing overhead: the same command, untraced and traced
        untraced = median_time([py, script])
        trace_dir = work / "trace"
        traced_times = []
        for _ in range(RUNS):
            shutil.rmtree(trace_dir, ignore_errors=True)
            trace_dir.mkdir()
            env = dict(os.environ, PYTHONPATH=str(REPO / "analyzer" / "tracer"),
                       PYFARM_TRACE_DIR=str(trace_dir),
                       LD_PRELOAD=str(lib.BUILD / "analyzer" / "libpfpreload.so"))
            traced_times.append(timed([py, script], env=env)[0])
        traced = statistics.median(traced_times)
        print("\n[trace]")
        row("untraced run (s)", f"{untraced:.3f}")
        row("traced run (s)", f"{traced:.3f}")
        row("overhead", f"{(traced / untraced - 1) * 100:.1f}%")

        print("\n[analysis and export]")
        for mode in ("host", "bundle"):
            cat = work / f"{mode}.db"
            t_an, r = timed([lib.tool("pfanalyze"), "-c", str(cat), "--glibc", mode, "--", py, script])
            m = re.search(r"analysis ([0-9.]+)s", r.stderr)
            dist = work / f"{mode}-dist"
            t_ex, _ = timed([lib.tool("pfexport"), str(cat), str(dist)])
            size, files = du(dist)
            row(f"{mode}: pfanalyze total / analysis alone (s)", f"{t_an:.2f}", m.group(1) if m else "?")
            row(f"{mode}: catalog size (MB)", f"{cat.stat().st_size / 1e6:.2f}")
            row(f"{mode}: dist size (MB) / files", f"{size / 1e6:.1f}", files)
            row(f"{mode}: pfexport to a folder (s)", f"{t_ex:.2f}")

        cat, dist = work / "bundle.db", work / "bundle-dist"
        t_zst, _ = timed([lib.tool("pfexport"), str(cat), str(work / "d.tar.zst")])
        t_tar, _ = timed(["tar", "-I", "zstd -T0", "-cf", str(work / "t.tar.zst"), "-C", str(dist), "."])
        print("\n[archive, hermetic dist]")
        row("pfexport .tar.zst: size (MB) / time (s)", f"{(work / 'd.tar.zst').stat().st_size / 1e6:.1f}",
            f"{t_zst:.2f}")
        row("tar -I 'zstd -T0' of the folder: size (MB) / time (s)",
            f"{(work / 't.tar.zst').stat().st_size / 1e6:.1f}", f"{t_tar:.2f}")

        print("\n[start-up, warm, median]")
        row("source venv", f"{median_time([py, script]):.3f}")
        row("exported folder, host glibc", f"{median_time([str(work / 'host-dist' / 'run.sh')]):.3f}")
        row("exported folder, hermetic", f"{median_time([str(dist / 'run')]):.3f}")

        if os.path.exists("/dev/fuse"):
            mnt = work / "mnt"
            mnt.mkdir()
            proc = subprocess.Popen([lib.tool("pfmount"), str(cat), str(mnt), "-f"])
            for _ in range(200):
                if lib._mounted_now(mnt):
                    break
                time.sleep(0.05)
            try:
                drop_caches()
                cold = timed([str(mnt / "run")])[0]
                row("pfmount mount, hermetic, cold (caches dropped)", f"{cold:.3f}")
                drop_caches()
                cold_dir = timed([str(dist / "run")])[0]
                row("exported folder, hermetic, cold (caches dropped)", f"{cold_dir:.3f}")
                row("pfmount mount, hermetic, warm", f"{median_time([str(mnt / 'run')]):.3f}")
                big = max((p for p in dist.rglob("*") if p.is_file() and not p.is_symlink()),
                          key=lambda p: p.stat().st_size)
                rel = big.relative_to(dist)
                print(f"\n[sequential read of {rel} ({big.stat().st_size / 1e6:.1f} MB), MB/s]")
                for label, path in (("disk (exported folder)", big), ("pfmount", mnt / rel)):
                    drop_caches()
                    t0 = time.perf_counter()
                    n = 0
                    with open(path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            n += len(chunk)
                    cold_mbs = n / 1e6 / (time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    with open(path, "rb") as f:
                        while f.read(1 << 20):
                            pass
                    warm_mbs = n / 1e6 / (time.perf_counter() - t0)
                    row(f"{label}: cold / warm", f"{cold_mbs:.0f}", f"{warm_mbs:.0f}")
                status = Path(f"/proc/{proc.pid}/status").read_text()
                hwm = re.search(r"VmHWM:\s+(\d+)", status).group(1)
                print()
                row("pfmount peak memory (VmHWM, MB)", f"{int(hwm) / 1024:.1f}")
            finally:
                subprocess.run(["fusermount3", "-u", str(mnt)])
                proc.wait(timeout=20)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
