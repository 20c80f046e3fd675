"""End to end: trace real apps with pfanalyze, export the dist with
pfexport, and run it where the source environment and the base interpreter
cannot be seen (bwrap: only the dist, the host's glibc and /bin/sh),
comparing the output with the original run. Also the same-SONAME proof, the
multi-environment (tox) choice and every bad input of the catalog issue."""
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pyfarm_testlib import analyze, export, run_empty_root, run_isolated, tree_hash

APPS = Path(__file__).resolve().parent.parent / "apps"
DEB_PY = "/usr/bin/python3"


def original(argv, cwd=None, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def build_dist(tmp_path, argv, *opts, cwd=None, env=None, name="app"):
    cat = tmp_path / f"{name}.db"
    analyze(cat, argv, *opts, cwd=cwd, env=env)
    dist = tmp_path / f"{name}-dist"
    export(cat, dist)
    return cat, dist


def in_dist(dist, *args, **kw):
    r = run_isolated(dist, ["/dist/run.sh", *args], **kw)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


def tree_paths(cat):
    with sqlite3.connect(cat) as db:
        return {p for (p,) in db.execute("select path from tree")}


@pytest.mark.parametrize("glibc", ["bundle", "host"])
def test_venv_numpy_opencv_certifi(tmp_path, venv_numpy_cv, glibc):
    py = str(Path(venv_numpy_cv) / "bin" / "python")
    app = tmp_path / "cvapp"
    shutil.copytree(APPS / "cvapp", app)
    before = tree_hash(venv_numpy_cv)
    want = original([py, str(app / "app.py"), "a", "b"])
    cat, dist = build_dist(tmp_path, [py, str(app / "app.py"), "a", "b"], "--glibc", glibc)
    assert (dist / "lib" / "libc.so.6").exists() == (glibc == "bundle")
    assert tree_hash(venv_numpy_cv) == before, "the traced venv was modified"
    got = in_dist(dist, "a", "b")
    assert got == want
    paths = tree_paths(cat)
    # the seed's own example: cv2's extension module and its vendored libraries
    assert any(p.endswith("cv2.abi3.so") for p in paths)
    assert any(".libs/" in p for p in paths)
    assert any(p.endswith(".dist-info/RECORD") and "certifi" in p for p in paths)
    assert not any("/.git/" in p or p.endswith("/.git") for p in paths)
    # why: a vendored library's chain ends at a traced import
    lib = next(p for p in sorted(paths) if "opencv_python_headless.libs/" in p)
    why = subprocess.run([os.environ["PYFARM_BUILD"] + "/tools/pfwhy", str(cat), lib],
                         capture_output=True, text=True)
    assert why.returncode == 0 and "opencv" in why.stdout, why.stdout + why.stderr


def test_dist_runs_from_any_folder_and_moved(tmp_path, venv_numpy_cv):
    py = str(Path(venv_numpy_cv) / "bin" / "python")
    app = tmp_path / "cvapp"
    shutil.copytree(APPS / "cvapp", app)
    want = original([py, str(app / "app.py")])
    cat, dist = build_dist(tmp_path, [py, str(app / "app.py")])
    moved = tmp_path / "elsewhere" / "deeper"
    moved.parent.mkdir()
    dist.rename(moved)
    # another folder as cwd, and the interpreter itself with the app's packages
    r = subprocess.run([str(moved / "run.sh")], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and r.stdout == want, r.stderr
    r = subprocess.run([str(moved / "python/bin/python"), "-c", "import cv2, numpy, certifi; print('ok')"],
                       capture_output=True, text=True, cwd="/tmp", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_debian_numpy_blas_alternatives(tmp_path):
    pytest.importorskip("numpy")
    want = original([DEB_PY, str(APPS / "npapp" / "app.py"), "x"])
    cat, dist = build_dist(tmp_path, [DEB_PY, str(APPS / "npapp" / "app.py"), "x"])
    assert in_dist(dist, "x") == want
    with sqlite3.connect(cat) as db:
        blas = [s for (s,) in db.execute("select source from tree where path like 'lib/libblas%'")]
    assert blas, "BLAS reached through /etc/alternatives must come along"


def test_multiprocessing_and_subprocess(tmp_path):
    app = tmp_path / "mpapp"
    shutil.copytree(APPS / "mpapp", app)
    want = original([DEB_PY, str(app / "app.py"), "q"])
    cat, dist = build_dist(tmp_path, [DEB_PY, str(app / "app.py"), "q"])
    got = in_dist(dist, "q")
    assert sorted(got.splitlines()) == sorted(want.splitlines())
    assert "fork [0, 1, 4, 9, 16, 25]" in got and "forkserver [0, 1, 4, 9, 16, 25]" in got


def test_external_program_comes_along(tmp_path):
    want = original([DEB_PY, str(APPS / "xzapp" / "app.py")])
    cat, dist = build_dist(tmp_path, [DEB_PY, str(APPS / "xzapp" / "app.py")])
    assert (dist / "bin" / "xz").exists()
    assert in_dist(dist) == want


def test_openssl_data_files(tmp_path):
    pytest.importorskip("cryptography")
    want = original([DEB_PY, str(APPS / "cryptoapp" / "app.py")])
    cat, dist = build_dist(tmp_path, [DEB_PY, str(APPS / "cryptoapp" / "app.py")])
    assert in_dist(dist) == want
    launch = (dist / ".pyfarm" / "launch").read_text()  # hermetic: the launcher sets it
    assert "OPENSSL_CONF" in launch
    assert list((dist / "data").rglob("openssl.cnf"))


def test_debian_opencv_links_gl_without_using_it(tmp_path):
    pytest.importorskip("cv2")
    want = original([DEB_PY, str(APPS / "debcv" / "app.py")])
    cat, dist = build_dist(tmp_path, [DEB_PY, str(APPS / "debcv" / "app.py")])
    names = {p.name for p in (dist / "lib").iterdir()}
    assert any(n.startswith("libGLX.so") or n.startswith("libOpenGL.so") or n.startswith("libGL.so")
               for n in names), sorted(names)
    # libdrm and libgbm are ordinary libraries (libva, libavcodec link them): they come along,
    # and nothing of the host's is bound in to hide their absence
    assert "libdrm.so.2" in names, sorted(names)
    with sqlite3.connect(cat) as db:
        host = {n for (n,) in db.execute("select distinct name from deps where kind='host'")}
    assert not [n for n in host if n.startswith(("libdrm", "libgbm"))], host
    assert in_dist(dist) == want
    r = run_empty_root(dist, ["/dist/run"])
    assert r.returncode == 0 and r.stdout == want, r.stderr


def build_same_soname(app, py):
    inc = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    suffix = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    for tag, value in (("a", 1), ("b", 2)):
        d = app / f"lib{tag}"
        d.mkdir()
        subprocess.run(["gcc", "-shared", "-fPIC", f"-DVALUE={value}", "-Wl,-soname,libsame.so.1",
                        "-o", str(d / "libsame.so.1"), str(APPS / "samesoname" / "libsame.c")], check=True)
        subprocess.run(["gcc", "-shared", "-fPIC", f"-DMODNAME=mod{tag}", f'-DMODSTR="mod{tag}"', f"-I{inc}",
                        "-o", str(app / f"mod{tag}{suffix}"), str(APPS / "samesoname" / "mod.c"),
                        str(d / "libsame.so.1"), f"-Wl,-rpath,$ORIGIN/lib{tag}"], check=True)


def test_same_soname_two_libraries_one_process(tmp_path, venv_numpy_cv):
    py = str(Path(venv_numpy_cv) / "bin" / "python")
    app = tmp_path / "same"
    app.mkdir()
    shutil.copy(APPS / "samesoname" / "app.py", app / "app.py")
    build_same_soname(app, py)
    want = original([py, str(app / "app.py")]).splitlines()
    # alone each module loads its own library; together glibc reuses the first (fact 2)
    assert want == ["moda 1", "modb 2", "together 1 1"]
    cat, dist = build_dist(tmp_path, [py, str(app / "app.py")])
    got = in_dist(dist).splitlines()
    assert got == ["moda 1", "modb 2", "together 1 2"], got
    renamed = [p.name for p in (dist / "lib").iterdir() if p.name.startswith("libsame-")]
    assert len(renamed) == 1, renamed
    dyn = subprocess.run(["readelf", "-d", str(dist / "lib" / renamed[0])], capture_output=True,
                         text=True, check=True).stdout
    assert f"[{renamed[0]}]" in dyn  # its SONAME is its new name


def test_tox_environments_kept_apart(tmp_path, tox_envs):
    env1, env2 = (str(e) for e in tox_envs)
    app = str(APPS / "toxapp" / "app.py")
    cat = tmp_path / "tox.db"
    cmd = f"'{env1}/bin/python' '{app}' && '{env2}/bin/python' '{app}'"
    r = subprocess.run([os.environ["PYFARM_BUILD"] + "/analyzer/pfanalyze", "-c", str(cat), "--",
                        "sh", "-c", cmd], capture_output=True, text=True)
    assert r.returncode != 0
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "--env" in err[0] and env1 in err[0] and env2 in err[0], r.stderr
    assert not cat.exists(), "nothing half-written"
    analyze(cat, ["sh", "-c", cmd], "--env", env2)
    dist = tmp_path / "tox-dist"
    export(cat, dist)
    want = original([f"{env2}/bin/python", app])
    assert in_dist(dist) == want
    other = original([f"{env1}/bin/python", app])
    assert other != want, "the two environments must differ for this test to mean anything"
