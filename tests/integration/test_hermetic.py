"""Hermetic dists (--glibc bundle): exported as a folder and as an unpacked
.tar.zst, they run in an empty root, in Debian bullseye (glibc 2.31) and in
Debian trixie (glibc 2.41), with the output of the source run. Host-mode
dists refuse cleanly where glibc is too old. A dist analyzed inside trixie
(Python 3.13, multiarch) runs in bullseye and in an empty root. Archives
are deterministic."""
import os
import shutil
import subprocess
from pathlib import Path

from pyfarm_testlib import (BUILD, analyze, export, run_empty_root, run_in_root,
                            tool_bundle, tree_listing, _bwrap)

APPS = Path(__file__).resolve().parent.parent / "apps"
DEB_PY = "/usr/bin/python3"


def original(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def lines(s):
    return sorted(s.splitlines())


def hermetic(tmp_path, name, argv):
    cat = tmp_path / f"{name}.db"
    analyze(cat, argv, "--glibc", "bundle")
    folder = tmp_path / f"{name}-dir"
    export(cat, folder)
    archive = tmp_path / f"{name}.tar.zst"
    export(cat, archive)
    unpacked = tmp_path / f"{name}-tar"
    unpacked.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(unpacked)], check=True)
    return cat, folder, unpacked


def check_everywhere(dists, want, roots, args=()):
    for dist in dists:
        r = run_empty_root(dist, ["/dist/run", *args])
        assert r.returncode == 0 and lines(r.stdout) == lines(want), (dist, "empty", r.stderr)
        for label, root in roots:
            r = run_in_root(root, dist, ["/dist/run", *args])
            assert r.returncode == 0 and lines(r.stdout) == lines(want), (dist, label, r.stderr)
            r = run_in_root(root, dist, ["/dist/run.sh", *args])  # where a shell exists
            assert r.returncode == 0 and lines(r.stdout) == lines(want), (dist, label, r.stderr)


def test_apps_run_in_empty_bullseye_and_trixie_roots(tmp_path, venv_numpy_cv, bullseye, trixie):
    apps = {
        "cv": [str(Path(venv_numpy_cv) / "bin" / "python"), str(APPS / "cvapp" / "app.py"), "h"],
        "np": [DEB_PY, str(APPS / "npapp" / "app.py"), "h"],
        "mp": [DEB_PY, str(APPS / "mpapp" / "app.py"), "h"],
        "xz": [DEB_PY, str(APPS / "xzapp" / "app.py"), "h"],
    }
    roots = [("bullseye", bullseye), ("trixie", trixie)]
    for name, argv in apps.items():
        want = original(argv)
        cat, folder, unpacked = hermetic(tmp_path, name, argv)
        assert (folder / "lib" / "libc.so.6").exists() and (folder / "run").exists()
        check_everywhere([folder, unpacked], want, roots, ["h"])


def test_what_glibc_reaches_for_in_an_empty_root(tmp_path):
    argv = [DEB_PY, str(APPS / "emptyroot" / "app.py"), "e"]
    want = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "USER": "tester"},
                          check=True).stdout
    assert "find_library libz.so.1" in want
    cat, folder, _ = hermetic(tmp_path, "er", argv)
    r = run_empty_root(folder, ["/dist/run", "e"])  # USER=tester in the sandbox
    assert r.returncode == 0 and r.stdout == want, r.stderr


def test_host_mode_refuses_old_glibc_and_runs_on_newer(tmp_path, bullseye, trixie):
    argv = [DEB_PY, str(APPS / "npapp" / "app.py")]
    want = original(argv)
    cat = tmp_path / "host.db"
    analyze(cat, argv, "--glibc", "host")
    dist = tmp_path / "host-dist"
    export(cat, dist)
    r = run_in_root(bullseye, dist, ["/dist/run.sh"])
    assert r.returncode == 127
    assert r.stderr.strip() == ("pyfarm: this dist needs glibc 2.36 or newer; this host has glibc 2.31 "
                                "(analyze with --glibc bundle to ship glibc)"), r.stderr
    r = run_in_root(trixie, dist, ["/dist/run.sh"])
    assert r.returncode == 0 and r.stdout == want, r.stderr


def test_max_glibc_lists_the_files(tmp_path):
    cat = tmp_path / "m.db"
    r = analyze(cat, [DEB_PY, "-c", "import ssl"], "--max-glibc", "2.28", check=False)
    assert r.returncode != 0 and not cat.exists()
    err = [line for line in r.stderr.splitlines() if line.startswith("pfanalyze:")]
    assert len(err) == 1 and "--max-glibc 2.28" in err[0] and "(GLIBC_2." in err[0], r.stderr


def test_analyzed_inside_trixie_runs_in_bullseye_and_empty_root(tmp_path, trixie, bullseye):
    bundle = tool_bundle(tmp_path / "pf")
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    shutil.copytree(APPS / "npapp", app)
    loader = ["/pf/lib/ld-linux-x86-64.so.2", "--library-path", "/pf/lib"]
    binds = ["--ro-bind", str(trixie), "/", "--ro-bind", str(bundle), "/pf", "--bind", str(out), "/out",
             "--ro-bind", str(app), "/app"]
    env = {"PYFARM_TOOLS_DIR": "/pf/bin"}
    want = _bwrap(binds, ["/usr/bin/python3", "/app/app.py"], env)
    assert want.returncode == 0 and "numpy 2." in want.stdout, want.stderr
    r = _bwrap(binds, loader + ["/pf/bin/pfanalyze", "-c", "/out/t.db", "--glibc", "bundle", "--",
                                "/usr/bin/python3", "/app/app.py"], env)
    assert r.returncode == 0, r.stderr
    r = _bwrap(binds, loader + ["/pf/bin/pfexport", "/out/t.db", "/out/dist"], env)
    assert r.returncode == 0, r.stderr
    assert list((out / "dist" / "python" / "lib").glob("python3.13*"))
    r = run_in_root(bullseye, out / "dist", ["/dist/run"])
    assert r.returncode == 0 and r.stdout == want.stdout, r.stderr
    r = run_empty_root(out / "dist", ["/dist/run"])
    assert r.returncode == 0 and r.stdout == want.stdout, r.stderr


def test_archive_is_deterministic_and_equals_the_folder(tmp_path):
    argv = [DEB_PY, str(APPS / "xzapp" / "app.py")]
    cat, folder, unpacked = hermetic(tmp_path, "det", argv)
    again = tmp_path / "again.tar.zst"
    export(cat, again)
    assert (tmp_path / "det.tar.zst").read_bytes() == again.read_bytes()
    assert tree_listing(folder) == tree_listing(unpacked)
