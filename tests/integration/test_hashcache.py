"""The per-user hash cache of pfanalyze (lib/hashcache.c): an unchanged
source is not read again, a changed one (any key field, ctime included) is,
concurrent analyses share the cache without harm, a broken cache costs one
warning and nothing else, and PYFARM_HASH_CACHE=off turns it off.

What was read is counted by pfanalyze itself (PYFARM_HASH_STATS=1), not
guessed from timings."""
import hashlib
import os
import re
import sqlite3
import subprocess
import time

from pyfarm_testlib import export, tool

DEB_PY = "/usr/bin/python3"
STATS = re.compile(r"hash: (\d+) files, (\d+) read \(\d+ bytes\), (\d+) from the cache")


def make_app(tmp_path, name="app"):
    d = tmp_path / name
    d.mkdir()
    (d / "mod.py").write_text("X = 1\n")
    (d / "app.py").write_text("import sys\nsys.path.insert(0, sys.argv[1])\nimport json, mod\n"
                              "print(json.dumps(mod.X))\n")
    return d


def cache_env(tmp_path, **extra):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"), PYFARM_HASH_STATS="1")
    env.pop("PYFARM_HASH_CACHE", None)
    env.update(extra)
    return env


def run(argv, env):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, f"{argv} failed ({r.returncode}):\n{r.stderr}"
    return r


def analyze(cat, app, env):
    return run([tool("pfanalyze"), "-c", str(cat), "--", DEB_PY, str(app / "app.py"), str(app)],
               env)


def reanalyze(cat, env):
    return run([tool("pfanalyze"), "-c", str(cat), "--reanalyze"], env)


def stats(r):
    m = STATS.search(r.stderr)
    assert m, r.stderr
    return tuple(map(int, m.groups()))  # files, read, from the cache


def generated(cat):
    """Files with no source (made by the analysis): always hashed."""
    with sqlite3.connect(cat) as db:
        return db.execute("select count(*) from tree where type='f' and source is null").fetchone()[0]


def sha_of(cat, suffix):
    with sqlite3.connect(cat) as db:
        rows = db.execute("select sha256, source from tree where path like ?", (f"%{suffix}",))
        return rows.fetchall()


def unpatched_hashes_true(cat):
    """Every file served as is carries the sha256 of its source's bytes."""
    with sqlite3.connect(cat) as db:
        rows = db.execute("select source, sha256 from tree where type='f' and patch is null"
                          " and source is not null").fetchall()
    assert rows
    for src, sha in rows:
        assert hashlib.sha256(open(src, "rb").read()).hexdigest() == sha, src


def warnings(r):
    return [line for line in r.stderr.splitlines() if "warning: hash cache" in line]


def settle():
    """Keys whose ctime is under a second old are not kept (a change within
    the same clock tick could not be told apart): let the app's new files
    age past that before the first analysis."""
    time.sleep(1.2)


def test_unchanged_files_come_from_the_cache(tmp_path):
    app = make_app(tmp_path)
    settle()
    env = cache_env(tmp_path)
    cat = tmp_path / "c.db"
    files, read, cached = stats(analyze(cat, app, env))
    assert (read, cached) == (files, 0)  # cold: everything read
    assert (tmp_path / "xdg" / "pyfarm" / "hashes.db").is_file()
    files2, read, cached = stats(reanalyze(cat, env))
    assert files2 == files
    # warm: only what the analysis generates is hashed again
    assert read == generated(cat) and cached == files - read, (files, read, cached)
    unpatched_hashes_true(cat)


def test_a_new_ctime_is_hashed_again(tmp_path):
    app = make_app(tmp_path)
    settle()
    env = cache_env(tmp_path)
    cat = tmp_path / "c.db"
    analyze(cat, app, env)
    mod = app / "mod.py"
    (old_sha, src), = sha_of(cat, "/mod.py")
    assert old_sha == hashlib.sha256(b"X = 1\n").hexdigest()
    # same size, same mtime, same inode: only the ctime tells the change
    st = os.stat(mod)
    with open(mod, "r+b") as f:
        f.write(b"X = 2\n")
    os.utime(mod, ns=(st.st_atime_ns, st.st_mtime_ns))
    st2 = os.stat(mod)
    assert (st2.st_ino, st2.st_size, st2.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert st2.st_ctime_ns != st.st_ctime_ns
    files, read, cached = stats(reanalyze(cat, env))
    assert read == generated(cat) + 1, (files, read, cached)
    (new_sha, _), = sha_of(cat, "/mod.py")
    assert new_sha == hashlib.sha256(b"X = 2\n").hexdigest()


def test_recorded_hashes_equal_the_exported_bytes(tmp_path):
    app = make_app(tmp_path)
    settle()
    env = cache_env(tmp_path)
    cat = tmp_path / "c.db"
    analyze(cat, app, env)
    reanalyze(cat, env)  # hashes from the cache this time
    dist = tmp_path / "dist"
    export(cat, dist)
    with sqlite3.connect(cat) as db:
        rows = db.execute("select path, sha256 from tree where type='f'").fetchall()
    assert len(rows) > 100
    for path, sha in rows:
        assert hashlib.sha256((dist / path).read_bytes()).hexdigest() == sha, path


def test_off_switch(tmp_path):
    app = make_app(tmp_path)
    settle()
    env = cache_env(tmp_path, PYFARM_HASH_CACHE="off")
    cat = tmp_path / "c.db"
    analyze(cat, app, env)
    files, read, cached = stats(reanalyze(cat, env))
    assert (read, cached) == (files, 0)
    assert not (tmp_path / "xdg" / "pyfarm").exists()


def test_cache_at_a_path_of_ones_choice(tmp_path):
    app = make_app(tmp_path)
    settle()
    db = tmp_path / "mine.db"
    env = cache_env(tmp_path, PYFARM_HASH_CACHE=str(db))
    cat = tmp_path / "c.db"
    analyze(cat, app, env)
    files, read, cached = stats(reanalyze(cat, env))
    assert cached == files - generated(cat) and db.is_file()
    assert not (tmp_path / "xdg" / "pyfarm").exists()


def test_corrupt_cache_is_one_warning(tmp_path):
    app = make_app(tmp_path)
    settle()
    env = cache_env(tmp_path)
    cdir = tmp_path / "xdg" / "pyfarm"
    cdir.mkdir(parents=True, mode=0o700)
    (cdir / "hashes.db").write_bytes(b"this is not a database\n" * 400)
    cat = tmp_path / "c.db"
    r = analyze(cat, app, env)
    assert len(warnings(r)) == 1 and "hashes.db" in warnings(r)[0], r.stderr
    files, read, cached = stats(r)
    assert (read, cached) == (files, 0)
    r = reanalyze(cat, env)
    assert len(warnings(r)) == 1, r.stderr
    unpatched_hashes_true(cat)


def test_cache_that_is_a_link_is_not_followed(tmp_path):
    app = make_app(tmp_path)
    settle()
    env = cache_env(tmp_path)
    cdir = tmp_path / "xdg" / "pyfarm"
    cdir.mkdir(parents=True, mode=0o700)
    elsewhere = tmp_path / "elsewhere.db"
    (cdir / "hashes.db").symlink_to(elsewhere)
    cat = tmp_path / "c.db"
    r = analyze(cat, app, env)
    assert len(warnings(r)) == 1 and "symbolic link" in warnings(r)[0], r.stderr
    assert not elsewhere.exists()


def test_concurrent_analyses_share_the_cache(tmp_path):
    apps = [make_app(tmp_path, f"app{i}") for i in range(2)]
    settle()
    env = cache_env(tmp_path)
    cats = [tmp_path / f"c{i}.db" for i in range(2)]
    for app, cat in zip(apps, cats):
        analyze(cat, app, cache_env(tmp_path, PYFARM_HASH_CACHE="off"))
    # four analyses at once, two on each catalog's copy, on a cold cache
    copies = []
    for i, cat in enumerate(cats):
        for k in range(2):
            c = tmp_path / f"c{i}-{k}.db"
            c.write_bytes(cat.read_bytes())
            copies.append(c)
    procs = [subprocess.Popen([tool("pfanalyze"), "-c", str(c), "--reanalyze"], env=env,
                              stderr=subprocess.PIPE, text=True) for c in copies]
    for p in procs:
        err = p.communicate(timeout=900)[1]
        assert p.returncode == 0, err
        assert "warning" not in err, err
    db = sqlite3.connect(tmp_path / "xdg" / "pyfarm" / "hashes.db")
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert db.execute("select count(*) from hashes").fetchone()[0] > 100
    db.close()
    for c in copies:
        files, read, cached = stats(reanalyze(c, env))
        assert read == generated(c), (c, files, read, cached)
        unpatched_hashes_true(c)
