"""Project layouts as users have them (issue 7, items 2 and 3): each is a
real project (a venv from PyPI at pinned current releases, or Debian's
python3 packages), analyzed, exported, and run in an empty root (the
default hermetic dist, no host anything) with the output of the source run;
and the dist holds what it must (the venv's site-packages, the editable
package, the metadata) and nothing that is not the app (a venv, an earlier
dist, archive or catalog, .git, build outputs).

Figures (dist size, analysis time) go to the file named by
PYFARM_LAYOUT_FIGURES when it is set."""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from pyfarm_testlib import (CACHE, _locked, analyze, base_python, export, make_venv,
                            run_empty_root)

APPS = Path(__file__).resolve().parent.parent / "apps"
DEB_PY = "/usr/bin/python3"
# current releases, renewed on purpose
NUMPY = "numpy==2.4.6"
JOBLIB = "joblib==1.6.0"


def _tree_key(*paths):
    h = hashlib.sha256()
    for base in paths:
        base = Path(base)
        for p in sorted(base.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(base)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def project(name, src, venv_dir, requirements=(), editable=None, local=()):
    """A copy of tests/apps/SRC with a venv made inside it at VENV_DIR
    (pinned requirements from PyPI, local projects of tests/apps installed,
    EDITABLE (a folder of the copy) installed with `pip install -e`), made
    once and cached: venvs hold absolute paths."""
    key = hashlib.sha256("\n".join([base_python(), venv_dir, *requirements, str(editable),
                                    *map(str, local), _tree_key(APPS / src,
                                                                *[APPS / x for x in local])])
                         .encode()).hexdigest()[:12]
    root = CACHE / f"layout-{name}-{key}"
    proj = root / "project"
    with _locked(f"layout-{name}"):
        partial = root / ".partial"
        if root.exists() and not partial.exists():
            return proj
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        partial.touch()
        shutil.copytree(APPS / src, proj)
        subprocess.run([base_python(), "-m", "venv", str(proj / venv_dir)], check=True)
        pip = [str(proj / venv_dir / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check"]
        if requirements:
            subprocess.run(pip + list(requirements), check=True)
        for i, x in enumerate(local):  # built from a copy: builds write into their folder
            copy = root / f"local{i}"
            shutil.copytree(APPS / x, copy)
            subprocess.run(pip + [str(copy)], check=True)
        if editable:
            subprocess.run(pip + ["-e", str(proj / editable)], check=True)
        partial.unlink()
    return proj


def source_run(argv, cwd=None, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def analyze_export(tmp_path, name, argv, cwd=None, env=None):
    cat = tmp_path / f"{name}.db"
    t0 = time.monotonic()
    analyze(cat, argv, "-q", cwd=cwd, env=env)
    took = time.monotonic() - t0
    dist = tmp_path / f"{name}-dist"
    export(cat, dist)
    size = sum(p.stat().st_size for p in dist.rglob("*") if p.is_file() and not p.is_symlink())
    out = os.environ.get("PYFARM_LAYOUT_FIGURES")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"layout": name, "analysis_s": round(took, 2),
                                "dist_mb": round(size / 1e6, 1)}) + "\n")
    return dist


def run_dist(dist, args=(), cwd="/tmp"):
    r = run_empty_root(dist, ["/dist/run", *args], cwd=cwd)
    assert r.returncode == 0, f"the dist failed in an empty root:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def names(dist):
    return {str(p.relative_to(dist)) for p in Path(dist).rglob("*")}


def under(dist, prefix):
    return sorted(n for n in names(dist) if n == prefix or n.startswith(prefix + "/"))


def site_has(dist, rel):
    """rel (a path inside a site folder) is in one of the dist's pN."""
    return any(Path(p, rel).exists() for p in Path(dist, "site-packages").glob("p*"))


# ---- a venv inside the project folder ----

@pytest.mark.parametrize("venv_dir", [".venv", "venv"])
def test_venv_inside_the_project(tmp_path, venv_dir):
    proj = project("venvapp" + venv_dir.replace(".", "dot"), "layout_venvapp", venv_dir, [NUMPY])
    argv = [str(proj / venv_dir / "bin" / "python"), str(proj / "app.py"), "a", "b"]
    want = source_run(argv)
    dist = analyze_export(tmp_path, "venv" + venv_dir.replace(".", "dot"), argv)
    assert run_dist(dist, ["a", "b"]) == want
    assert site_has(dist, "numpy/__init__.py"), "the venv's site-packages must come along"
    assert (dist / "app" / "helpers" / "__init__.py").exists()
    assert not under(dist, f"app/{venv_dir}"), "the venv is not the app"


def test_python_dash_m_package(tmp_path):
    venv = make_venv("layout-np", [NUMPY])
    proj = tmp_path / "proj"
    shutil.copytree(APPS / "layout_mpkg", proj)
    argv = [str(venv / "bin" / "python"), "-m", "mpkg", "x"]
    want = source_run(argv, cwd=proj)
    dist = analyze_export(tmp_path, "mpkg", argv, cwd=proj)
    assert run_dist(dist, ["x"]) == want
    assert site_has(dist, "numpy/__init__.py"), "numpy, imported by mpkg/__main__.py"
    with sqlite3.connect(tmp_path / "mpkg.db") as db:  # the alias the graph joins
        assert db.execute("SELECT count(*) FROM facts WHERE kind='A' AND a='__main__'"
                          " AND b='mpkg.__main__'").fetchone()[0] >= 1
    assert (dist / "app" / "mpkg" / "__main__.py").exists()


def test_console_script_run_from_the_folder_of_its_venv(tmp_path):
    proj = project("tool", "layout_venvapp", "venv", [NUMPY], local=["layout_tool"])
    tool = proj / "venv" / "bin" / "layouttool"
    want = source_run([str(tool), "q"], cwd=proj)
    dist = analyze_export(tmp_path, "tool", [tool, "q"], cwd=proj)
    assert run_dist(dist, ["q"]) == want
    assert site_has(dist, "layouttool/cli.py") and site_has(dist, "numpy/__init__.py")
    app = under(dist, "app")
    assert not [n for n in app if "/venv" in n or n.endswith("app.py")], \
        f"the folder the tool ran from is not the app: {app[:10]}"


def test_src_layout_installed_editable(tmp_path):
    proj = project("src", "layout_src", ".venv", [NUMPY], editable=".")
    argv = [str(proj / ".venv" / "bin" / "python"), str(proj / "app.py"), "s"]
    want = source_run(argv)
    dist = analyze_export(tmp_path, "src", argv)
    assert run_dist(dist, ["s"]) == want
    assert site_has(dist, "srcpkg/__init__.py"), "src/ (named by the editable .pth) on sys.path"
    assert site_has(dist, "numpy/__init__.py")


def test_flat_layout_editable_found_by_a_finder_hook(tmp_path):
    proj = project("flat", "layout_flat", ".venv", [NUMPY], editable=".")
    site = next((proj / ".venv" / "lib").glob("python3*/site-packages"))
    assert list(site.glob("__editable__*finder.py")), "setuptools made no finder hook"
    tool = proj / ".venv" / "bin" / "flattool"
    want = source_run([str(tool), "f"], cwd=tmp_path)
    dist = analyze_export(tmp_path, "flat", [tool, "f"], cwd=tmp_path)
    assert run_dist(dist, ["f"]) == want
    assert site_has(dist, "flatpkg/cli.py"), "the package the finder hook found"
    assert site_has(dist, "mapped/sub.py"), "code/ placed as the package it is: mapped"
    meta = [n for n in names(dist) if n.startswith("site-packages/p") and (
        "/flatpkg-0.1.dist-info/METADATA" in n or "/flatpkg.egg-info/PKG-INFO" in n)]
    assert meta, "its metadata (importlib.metadata reads it)"


def test_namespace_package_over_three_sys_path_entries(tmp_path):
    proj = project("ns", "layout_ns", "venv", local=["layout_ns/alpha"])
    env = dict(os.environ, PYTHONPATH=str(proj / "extra"))
    argv = [str(proj / "venv" / "bin" / "python"), str(proj / "app" / "app.py")]
    want = source_run(argv, env=env)
    assert want.startswith("3 "), want
    dist = analyze_export(tmp_path, "ns", argv, env=env)
    assert run_dist(dist) == want
    assert site_has(dist, "nsx/alpha/__init__.py") and site_has(dist, "nsx/beta/__init__.py")
    assert (dist / "app" / "nsx" / "gamma" / "__init__.py").exists()


def test_debian_egg_info_packages(tmp_path):
    for mod in ("certifi", "joblib"):
        if subprocess.run([DEB_PY, "-c", f"import {mod}"], capture_output=True).returncode:
            pytest.skip(f"Debian's python3-{mod} is not installed (apt-get install python3-{mod})")
    app = tmp_path / "app"
    shutil.copytree(APPS / "layout_debegg", app)
    argv = [DEB_PY, str(app / "app.py")]
    want = source_run(argv)
    dist = analyze_export(tmp_path, "debegg", argv)
    assert run_dist(dist) == want
    for d in ("certifi", "joblib"):
        assert site_has(dist, f"{d}/__init__.py"), d
        assert any(n.endswith(".egg-info/PKG-INFO") and f"/{d}-" in n for n in names(dist)), \
            f"{d}'s .egg-info must come along"


def test_multiprocessing_app_with_site_packages(tmp_path):
    """The __mp_main__ trap: spawn workers run the script as __mp_main__."""
    proj = project("mp", "layout_mp", ".venv", [NUMPY, JOBLIB])
    argv = [str(proj / ".venv" / "bin" / "python"), str(proj / "app.py")]
    want = source_run(argv)
    dist = analyze_export(tmp_path, "mp", argv)
    assert run_dist(dist) == want
    assert site_has(dist, "joblib/__init__.py") and site_has(dist, "numpy/__init__.py")
    with sqlite3.connect(tmp_path / "mp.db") as db:  # a spawned worker's __main__
        assert db.execute("SELECT count(*) FROM facts WHERE kind='A' AND a='__main__'"
                          " AND b='__mp_main__'").fetchone()[0] >= 1


def test_module_with_a_made_up_file(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(APPS / "layout_fakefile", app)
    argv = [DEB_PY, str(app / "app.py")]
    want = source_run(argv, cwd=tmp_path)
    dist = analyze_export(tmp_path, "fakefile", argv, cwd=tmp_path)
    assert run_dist(dist) == want
    assert (dist / "app" / "fakeops" / "_impl.py").exists()


def test_earlier_outputs_beside_the_script_stay_out(tmp_path):
    """An earlier dist, archive and catalog, .git and build outputs in the
    app's folder: the analysis succeeds and none of them is the app."""
    if subprocess.run([DEB_PY, "-c", "import numpy"], capture_output=True).returncode:
        pytest.skip("Debian's python3-numpy is not installed")
    app = tmp_path / "app"
    shutil.copytree(APPS / "layout_stale", app)
    argv = [DEB_PY, str(app / "app.py"), "z"]
    want = source_run(argv)
    first = tmp_path / "first.db"
    analyze(first, argv, "-q")
    export(first, app / "olddist")
    export(first, app / "app.tar.zst")
    shutil.copy(first, app / "app.db")
    (app / ".git").mkdir()
    (app / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (app / "build" / "lib").mkdir(parents=True)
    (app / "build" / "lib" / "stale.py").write_text("raise SystemExit('stale build output')\n")
    dist = analyze_export(tmp_path, "stale", argv)
    assert run_dist(dist, ["z"]) == want
    app_files = under(dist, "app")
    for gone in ("app/olddist", "app/app.tar.zst", "app/app.db", "app/.git", "app/build"):
        assert gone not in app_files, f"{gone} is not the app"
    assert "app/stalelib/__init__.py" in app_files and "app/app.py" in app_files
