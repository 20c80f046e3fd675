"""pfmount on real catalogs: the mount and pfexport's folder are the same
tree (every path, type, mode, size, link target and byte), apps run from the
mount with their environment hidden, and many processes use it at once."""
import concurrent.futures
import hashlib
import mmap
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pyfarm_testlib import analyze, export, mounted, run_isolated, tree_listing

APPS = Path(__file__).resolve().parent.parent / "apps"
DEB_PY = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse on this machine")


def original(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def catalog_for(tmp_path, argv, name):
    cat = tmp_path / f"{name}.db"
    analyze(cat, argv)
    dist = tmp_path / f"{name}-dist"
    export(cat, dist)
    return cat, dist


def assert_same_tree(mnt, dist):
    a, b = tree_listing(mnt), tree_listing(dist)
    missing, extra = sorted(set(b) - set(a)), sorted(set(a) - set(b))
    assert not missing and not extra, (missing[:5], extra[:5])
    diff = [p for p in b if a[p] != b[p]]
    assert not diff, [(p, a[p], b[p]) for p in diff[:5]]
    return len(b)


def test_numpy_opencv_venv_from_the_mount(tmp_path, venv_numpy_cv):
    py = str(Path(venv_numpy_cv) / "bin" / "python")
    app = tmp_path / "cvapp"
    shutil.copytree(APPS / "cvapp", app)
    want = original([py, str(app / "app.py"), "m"])
    cat, dist = catalog_for(tmp_path, [py, str(app / "app.py"), "m"], "cv")
    with mounted(cat, tmp_path / "mnt") as mnt:
        n = assert_same_tree(mnt, dist)
        r = run_isolated(mnt, ["/dist/run.sh", "m"])
        assert r.returncode == 0 and r.stdout == want, r.stderr
    print(f"cv app: {n} paths equal between the mount and the export")


def test_debian_numpy_and_multiprocessing_from_the_mount(tmp_path):
    for name, argv in (("np", [DEB_PY, str(APPS / "npapp" / "app.py")]),
                       ("mp", [DEB_PY, str(APPS / "mpapp" / "app.py")])):
        want = original(argv)
        cat, dist = catalog_for(tmp_path, argv, name)
        with mounted(cat, tmp_path / f"mnt-{name}") as mnt:
            assert_same_tree(mnt, dist)
            r = run_isolated(mnt, ["/dist/run.sh"])
            assert r.returncode == 0, r.stderr
            assert sorted(r.stdout.splitlines()) == sorted(want.splitlines())


def test_many_readers_mmappers_and_runs_at_once(tmp_path):
    argv = [DEB_PY, str(APPS / "npapp" / "app.py")]
    want = original(argv)
    cat, dist = catalog_for(tmp_path, argv, "many")
    expected = {p: e for p, e in tree_listing(dist).items() if e[0] == "f"}
    big = sorted(expected, key=lambda p: expected[p][2])[-8:]
    subprocess.run(["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"], capture_output=True)

    def read(p, mnt):
        h = hashlib.sha256()
        with open(mnt / p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                h.update(chunk)
        return h.hexdigest() == expected[p][4]

    def mapped(p, mnt):
        with open(mnt / p, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
            return hashlib.sha256(m[:]).hexdigest() == expected[p][4]

    def run(mnt):
        r = run_isolated(mnt, ["/dist/run.sh"])
        return r.returncode == 0 and r.stdout == want

    with mounted(cat, tmp_path / "mnt") as mnt:
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            jobs = [pool.submit(read, p, mnt) for p in big]
            jobs += [pool.submit(mapped, p, mnt) for p in big]
            jobs += [pool.submit(run, mnt) for _ in range(8)]
            results = [j.result() for j in jobs]
    assert len(results) == 24 and all(results), results
