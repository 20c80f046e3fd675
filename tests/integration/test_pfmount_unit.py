"""pfmount (fs/) against the folder its catalog mirrors.

Catalogs are written by tests/unit/mkcatalog (a tree mirroring a folder,
plus a patched file and an all-literal file) until pfanalyze's catalogs are
used here. The mirrored folder holds a real program (xz) with its shared
libraries, Debian's numpy package, and edge cases (empty, odd names,
modes, dangling and absolute symlinks, a large random file).

Checks: tree equality (path, type, mode, size, mtime, inode, link target,
bytes), running xz and importing numpy from the mount, 16+ concurrent
readers/mmappers/executors after a cache drop, kernel-side sandboxes
(bwrap, another uid), changed/vanished sources (EIO and one log line),
EROFS for every write, refused catalogs, SIGTERM under load and
fusermount3 -u in background mode.

Binaries come from PYFARM_BUILD (default build/ of this checkout): fs/pfmount and
tests/mkcatalog. Needs root and /dev/fuse.
"""

import contextlib
from pathlib import Path
import errno
import hashlib
import mmap
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

BUILD = os.environ.get("PYFARM_BUILD", str(Path(__file__).resolve().parents[2] / "build"))
PFMOUNT = os.path.join(BUILD, "fs", "pfmount")
MKCATALOG = os.path.join(BUILD, "tests", "mkcatalog")
SYS_PYTHON = "/usr/bin/python3"  # Debian's, whose numpy we mirror
NUMPY = "/usr/lib/python3/dist-packages/numpy"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(PFMOUNT) and os.path.exists(MKCATALOG))
    or not os.path.exists("/dev/fuse")
    or os.geteuid() != 0
    or shutil.which("fusermount3") is None,
    reason="needs built pfmount and mkcatalog (PYFARM_BUILD), root, /dev/fuse, fusermount3",
)

HEAD, MID, TAIL = b"PYFARM-HEAD\n", b"PYFARM-MIDDLE\n", b"PYFARM-TAIL\n"
RUN_SH = "#!/bin/sh\necho generated\n"


# ---- helpers ---------------------------------------------------------------


def mount_points():
    with open("/proc/mounts") as f:
        return {line.split()[1].replace("\\040", " ") for line in f}


def is_mounted(mnt):
    return os.path.realpath(mnt) in mount_points()


class Mount:
    def __init__(self, proc, path, log):
        self.proc, self.path, self.log = proc, path, log

    def stderr(self):
        with open(self.log, errors="replace") as f:
            return f.read()


@contextlib.contextmanager
def mounted(catalog, mnt, *options, timeout=10):
    """pfmount -f CATALOG MNT; waits until the mount is in /proc/mounts and
    always unmounts (and reaps pfmount) on the way out."""
    os.makedirs(mnt, exist_ok=True)
    log = mnt.rstrip("/") + ".log"
    with open(log, "w") as errf:
        proc = subprocess.Popen([PFMOUNT, catalog, mnt, "-f", *options], stdout=errf, stderr=errf)
    try:
        deadline = time.monotonic() + timeout
        while not is_mounted(mnt):
            if proc.poll() is not None:
                with open(log) as f:
                    raise AssertionError(f"pfmount exited {proc.returncode}: {f.read()}")
            if time.monotonic() > deadline:
                raise AssertionError("pfmount did not mount in time")
            time.sleep(0.02)
        yield Mount(proc, mnt, log)
    finally:
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-u", "-z", mnt], check=False)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def mkcatalog(catalog, src, *extra):
    subprocess.run([MKCATALOG, catalog, src, *extra], check=True)


def drop_caches():
    subprocess.run(["sync"], check=False)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass  # not allowed here: the test still runs, only warmer


def sha(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def patched_bytes(src):
    data = open(src, "rb").read()
    half = len(data) // 2
    return HEAD + data[:half] + MID + data[half:] + TAIL


def copy_with_links(path, destdir):
    """Copy a library as its real file plus the symlink chain to it."""
    name = os.path.basename(path)
    real = os.path.realpath(path)
    shutil.copy2(real, os.path.join(destdir, os.path.basename(real)))
    if os.path.basename(real) != name:
        os.symlink(os.path.basename(real), os.path.join(destdir, name))


def build_source(root):
    """The folder mirrored by the main catalog."""
    os.makedirs(root)
    for d in ("bin", "lib", "pkgs", "data/empty_dir/nested", "data/odd names"):
        os.makedirs(os.path.join(root, d))
    shutil.copy2("/usr/bin/xz", os.path.join(root, "bin", "xz"))
    out = subprocess.run(["ldd", "/usr/bin/xz"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split("=>")
        if len(parts) == 2 and parts[1].strip().startswith("/"):
            copy_with_links(parts[1].split()[0], os.path.join(root, "lib"))
    if os.path.isdir(NUMPY):
        shutil.copytree(NUMPY, os.path.join(root, "pkgs", "numpy"), symlinks=True)
    data = os.path.join(root, "data")
    rnd = random.Random(1234)
    with open(os.path.join(data, "random.bin"), "wb") as f:
        f.write(rnd.randbytes(12 * 1024 * 1024 + 123))
    open(os.path.join(data, "empty"), "wb").close()
    with open(os.path.join(data, "odd names", "sp ace,comma=é.txt"), "w") as f:
        f.write("odd\n")
    for name, mode in (("ro.txt", 0o444), ("private.txt", 0o600), ("script.sh", 0o750)):
        p = os.path.join(data, name)
        with open(p, "w") as f:
            f.write(f"{name}\n")
        os.chmod(p, mode)
    os.symlink("../bin/xz", os.path.join(data, "rel_link"))
    os.symlink("/nonexistent/target", os.path.join(data, "dangling"))
    os.symlink("/etc/hostname", os.path.join(data, "absolute"))
    os.chmod(os.path.join(data, "empty_dir"), 0o700)
    os.utime(os.path.join(data, "ro.txt"), (1_000_000_000, 1_000_000_000))


def walk(root):
    """{relative path: (type, mode, size, mtime, target)} without following links."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            t = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else "f"
            out[rel] = (
                t,
                stat.S_IMODE(st.st_mode),
                st.st_size if t != "d" else None,
                int(st.st_mtime),
                os.readlink(p) if t == "l" else None,
            )
    return out


def catalog_ids(catalog):
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT path, id FROM tree"))
    finally:
        db.close()


# ---- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("pfmount"))
    src = os.path.join(base, "src")
    build_source(src)
    catalog = os.path.join(base, "main.db")
    mkcatalog(
        catalog,
        src,
        "--patched",
        "data/xz.patched=" + os.path.join(src, "bin", "xz"),
        "--literal",
        "run.sh=" + RUN_SH,
    )
    return base, src, catalog


@pytest.fixture(scope="module")
def main_mount(tree):
    base, src, catalog = tree
    with mounted(catalog, os.path.join(base, "mnt")) as m:
        yield m, src, catalog
        assert m.proc.poll() is None, "pfmount died while serving"
    # a clean exit after fusermount3 -u, and nothing logged: no faults, no
    # query-plan warnings (and, under ASan, no leaks)
    assert m.proc.returncode == 0, m.stderr()
    assert m.stderr() == "", m.stderr()


@pytest.fixture
def small(tmp_path):
    """A small source folder and a function that catalogs it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_bytes(b"original bytes\n")
    (src / "big.bin").write_bytes(random.Random(7).randbytes(8 * 1024 * 1024))
    (src / "keep.txt").write_bytes(b"untouched\n")

    def make(*extra):
        catalog = str(tmp_path / "small.db")
        mkcatalog(catalog, str(src), *extra)
        return catalog

    return tmp_path, src, make


# ---- tree equality -----------------------------------------------------------


def test_tree_equal_to_source(main_mount):
    m, src, catalog = main_mount
    mine = walk(m.path)
    theirs = walk(src)
    extra = {"data/xz.patched", "run.sh"}
    assert set(mine) - extra == set(theirs)
    for rel, want in theirs.items():
        got = mine[rel]
        if want[0] == "d":  # a folder's size is the filesystem's business
            assert got[:2] == want[:2] and got[3] == want[3], rel
        else:
            assert got == want, rel
    ids = catalog_ids(catalog)
    for rel in mine:
        assert os.lstat(os.path.join(m.path, rel)).st_ino == ids[rel], rel
    assert os.stat(m.path).st_ino == 1
    for rel, want in theirs.items():
        if want[0] == "f":
            assert file_sha(os.path.join(m.path, rel)) == file_sha(os.path.join(src, rel)), rel


def test_generated_and_patched_files(main_mount):
    m, src, _ = main_mount
    want = patched_bytes(os.path.join(src, "bin", "xz"))
    p = os.path.join(m.path, "data", "xz.patched")
    assert os.path.getsize(p) == len(want)
    assert open(p, "rb").read() == want
    # reads at odd offsets and lengths across extent boundaries
    with open(p, "rb") as f:
        for off in (0, 5, len(HEAD) - 1, len(want) // 2, len(want) - len(TAIL) - 3, len(want) - 1):
            f.seek(off)
            assert f.read(4099) == want[off : off + 4099]
    assert open(os.path.join(m.path, "run.sh")).read() == RUN_SH
    out = subprocess.run([os.path.join(m.path, "run.sh")], capture_output=True, text=True)
    assert out.stdout == "generated\n"


def test_random_reads_match(main_mount):
    m, src, _ = main_mount
    data = open(os.path.join(src, "data", "random.bin"), "rb").read()
    rnd = random.Random(99)
    with open(os.path.join(m.path, "data", "random.bin"), "rb", buffering=0) as f:
        for _ in range(300):
            off = rnd.randrange(len(data) + 10)
            n = rnd.choice((1, 7, 4096, 65537, 1 << 20, 3 << 20))
            assert os.pread(f.fileno(), n, off) == data[off : off + n]


def test_dirs_and_attrs(main_mount):
    m, src, _ = main_mount
    st = os.stat(os.path.join(m.path, "data"))
    subdirs = sum(1 for e in os.scandir(os.path.join(src, "data")) if e.is_dir(follow_symlinks=False))
    assert st.st_nlink == 2 + subdirs
    assert st.st_uid == 0 and st.st_gid == 0
    assert os.stat(os.path.join(m.path, "bin", "xz")).st_nlink == 1
    assert sorted(os.listdir(os.path.join(m.path, "data", "empty_dir"))) == ["nested"]
    assert os.listdir(os.path.join(m.path, "data", "empty_dir", "nested")) == []
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(m.path, "data", "no-such-file"))
    with pytest.raises(FileNotFoundError):  # again: now from the kernel's negative cache
        os.stat(os.path.join(m.path, "data", "no-such-file"))
    sv = os.statvfs(m.path)
    assert sv.f_flag & os.ST_RDONLY
    assert sv.f_files == len(catalog_ids(main_mount[2]))
    # a big folder listed in small readdir chunks stays complete and ordered
    if os.path.isdir(os.path.join(src, "pkgs", "numpy", "core")):
        d = os.path.join("pkgs", "numpy", "core")
        assert sorted(os.listdir(os.path.join(m.path, d))) == sorted(os.listdir(os.path.join(src, d)))


# ---- running from the mount --------------------------------------------------


def xz_env(mnt):
    return dict(os.environ, LD_LIBRARY_PATH=os.path.join(mnt, "lib"), LC_ALL="C")


def test_exec_with_libraries_from_mount(main_mount):
    m, src, _ = main_mount
    xz = os.path.join(m.path, "bin", "xz")
    listing = subprocess.run(
        ["/lib64/ld-linux-x86-64.so.2", "--list", xz], env=xz_env(m.path),
        capture_output=True, text=True, check=True,
    ).stdout
    for lib in os.listdir(os.path.join(src, "lib")):
        if not os.path.islink(os.path.join(src, "lib", lib)):
            continue
        assert f"{lib} => {os.path.join(m.path, 'lib', lib)}" in listing, listing
    data = open(os.path.join(src, "data", "random.bin"), "rb").read()[: 2 << 20]
    want = subprocess.run(["/usr/bin/xz", "-c", "-1", "-T1"], input=data, capture_output=True,
                          check=True).stdout
    got = subprocess.run([xz, "-c", "-1", "-T1"], input=data, env=xz_env(m.path),
                         capture_output=True, check=True).stdout
    assert got == want


NUMPY_SCRIPT = (
    "import numpy, sys; "
    "assert numpy.__file__.startswith(sys.argv[1]), numpy.__file__; "
    "a = numpy.arange(1000, dtype=numpy.float64).reshape(10, 100); "
    "print(int((a @ a.T).trace()), numpy.__version__)"
)


@pytest.mark.skipif(not os.path.isdir(NUMPY) or not os.path.exists(SYS_PYTHON),
                    reason="needs Debian's python3-numpy")
def test_python_imports_from_mount(main_mount):
    m, _, _ = main_mount
    pkgs = os.path.join(m.path, "pkgs")
    want = subprocess.run([SYS_PYTHON, "-S", "-c", NUMPY_SCRIPT, NUMPY[: -len("/numpy")]],
                          env=dict(os.environ, PYTHONPATH=""), capture_output=True, text=True)
    # -S: no site, so dist-packages is not on the path and numpy can only
    # come from PYTHONPATH, the mount
    got = subprocess.run([SYS_PYTHON, "-S", "-c", NUMPY_SCRIPT, pkgs],
                         env=dict(os.environ, PYTHONPATH=pkgs, PYTHONDONTWRITEBYTECODE="1"),
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    if want.returncode == 0:
        assert got.stdout == want.stdout


READER = r"""
import hashlib, mmap, os, sys
root, src, mode = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
for dirpath, dirs, files in os.walk(src):
    for name in sorted(files):
        s = os.path.join(dirpath, name)
        if os.path.islink(s):
            continue
        rel = os.path.relpath(s, src)
        m = os.path.join(root, rel)
        want = hashlib.sha256(open(s, "rb").read()).hexdigest()
        if mode == "mmap":
            if not (name.endswith(".so") or ".so." in name or os.path.getsize(s) > 1 << 20):
                continue
            if os.path.getsize(s) == 0:
                continue
            with open(m, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
                got = hashlib.sha256(mm[:]).hexdigest()
        else:
            with open(m, "rb") as f:
                h = hashlib.sha256()
                while chunk := f.read(65536 + n % 3 * 4097):
                    h.update(chunk)
                got = h.hexdigest()
        if got != want:
            print("MISMATCH", rel)
            sys.exit(1)
        n += 1
print("ok", n)
"""


def test_concurrent_readers_mmappers_executors(main_mount):
    m, src, _ = main_mount
    drop_caches()  # cold: every process pulls through pfmount at once
    data = open(os.path.join(src, "data", "random.bin"), "rb").read()[: 1 << 20]
    want_xz = subprocess.run(["/usr/bin/xz", "-c", "-1", "-T1"], input=data, capture_output=True,
                             check=True).stdout
    procs = []
    for i in range(6):
        procs.append(("read", subprocess.Popen(
            [sys.executable, "-c", READER, m.path, src, "read"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        procs.append(("mmap", subprocess.Popen(
            [sys.executable, "-c", READER, m.path, src, "mmap"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    for i in range(6):
        p = subprocess.Popen([os.path.join(m.path, "bin", "xz"), "-c", "-1", "-T1"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=xz_env(m.path))
        procs.append(("xz", p))
    if os.path.isdir(NUMPY):
        pkgs = os.path.join(m.path, "pkgs")
        for i in range(4):
            procs.append(("numpy", subprocess.Popen(
                [SYS_PYTHON, "-S", "-c", NUMPY_SCRIPT, pkgs],
                env=dict(os.environ, PYTHONPATH=pkgs, PYTHONDONTWRITEBYTECODE="1"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    assert len(procs) >= 16
    results = []
    for kind, p in procs:
        out, err = p.communicate(input=data if kind == "xz" else None, timeout=300)
        results.append((kind, p.returncode, out, err))
    for kind, rc, out, err in results:
        assert rc == 0, (kind, err[-2000:])
        if kind == "xz":
            assert out == want_xz
        elif kind in ("read", "mmap"):
            assert out.startswith(b"ok "), out
    assert m.proc.poll() is None


def test_sandboxes_read_the_mount(tree):
    """As root, a bwrap sandbox needs nothing special; a process that really
    runs as another uid needs -o allow_other, which pfmount adds only when
    asked. (The mount point is outside pytest's 0700 tmp folder, so nobody
    reaches it; what nobody may read is tested in test_mount_users.py.)"""
    import tempfile
    _, _, catalog = tree
    top = tempfile.mkdtemp(prefix="pfmount-sandbox-")
    os.chmod(top, 0o755)
    try:
        with mounted(catalog, os.path.join(top, "mnt"), "-o", "allow_other") as m:
            _check_sandboxes(m)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _check_sandboxes(m):
    with open("/proc/mounts") as f:
        line = next(l for l in f if l.split()[1] == os.path.realpath(m.path))
    assert "allow_other" in line and "ro," in line and "default_permissions" in line
    nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    if shutil.which("setpriv"):
        r = subprocess.run(nobody + ["cat", os.path.join(m.path, "data", "ro.txt")],
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout == "ro.txt\n", r.stderr
        r = subprocess.run(nobody + [os.path.join(m.path, "bin", "xz"), "--version"],
                           capture_output=True, text=True, env=xz_env(m.path))
        assert r.returncode == 0 and "xz (XZ Utils)" in r.stdout, r.stderr
        # modes are enforced: root's 0600 file is not readable by nobody
        r = subprocess.run(nobody + ["cat", os.path.join(m.path, "data", "private.txt")],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "Permission denied" in r.stderr
    if shutil.which("bwrap"):
        cmd = ["bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64", "/lib64",
               "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin",
               "--ro-bind", m.path, "/app", "--dev", "/dev", "--proc", "/proc",
               "--unshare-all", "--uid", "1000", "--gid", "1000",
               "--setenv", "LD_LIBRARY_PATH", "/app/lib", "/app/bin/xz", "--version"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if "No permissions to create new namespace" in r.stderr or "setting up uid map" in r.stderr:
            pytest.skip("bwrap cannot create namespaces here")
        assert r.returncode == 0 and "xz (XZ Utils)" in r.stdout, r.stderr


# ---- faults ------------------------------------------------------------------


def read_errno(path):
    try:
        with open(path, "rb") as f:
            f.read()
    except OSError as e:
        return e.errno
    return 0


def test_changed_source_gives_eio_and_one_line(small):
    tmp, src, make = small
    catalog = make("--patched", "p.bin=" + str(src / "keep.txt"))
    with mounted(catalog, str(tmp / "mnt")) as m:
        f = os.path.join(m.path, "f.txt")
        assert open(f, "rb").read() == b"original bytes\n"
        # same size, new bytes and mtime
        (src / "f.txt").write_bytes(b"ORIGINAL BYTES\n")
        for _ in range(3):
            assert read_errno(f) == errno.EIO
        # only the mtime changes
        st = os.stat(src / "keep.txt")
        os.utime(src / "keep.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert read_errno(os.path.join(m.path, "keep.txt")) == errno.EIO
        assert read_errno(os.path.join(m.path, "p.bin")) == errno.EIO  # patched over it
        # the rest is still served
        assert len(open(os.path.join(m.path, "big.bin"), "rb").read()) == 8 << 20
        time.sleep(0.2)
        lines = m.stderr().splitlines()
    assert len([l for l in lines if "f.txt" in l]) == 1, lines
    assert len([l for l in lines if "keep.txt" in l and "p.bin" not in l]) == 1, lines
    assert len([l for l in lines if "p.bin" in l]) == 1, lines
    assert all(l.startswith("pfmount: ") for l in lines), lines
    assert any(str(src / "f.txt") in l and "changed" in l for l in lines), lines


def test_vanished_source_gives_eio(small):
    tmp, src, make = small
    catalog = make()
    with mounted(catalog, str(tmp / "mnt")) as m:
        os.unlink(src / "f.txt")
        assert read_errno(os.path.join(m.path, "f.txt")) == errno.EIO
        assert read_errno(os.path.join(m.path, "f.txt")) == errno.EIO
        assert open(os.path.join(m.path, "keep.txt"), "rb").read() == b"untouched\n"
        time.sleep(0.2)
        lines = m.stderr().splitlines()
    assert len(lines) == 1 and "f.txt" in lines[0], lines


def test_source_changed_while_open(small):
    """Bytes not yet in the kernel's cache are not served from a source
    rewritten after open: the check runs after every read."""
    tmp, src, make = small
    catalog = make()
    with mounted(catalog, str(tmp / "mnt"), "-o", "readahead=128") as m:
        with open(os.path.join(m.path, "big.bin"), "rb", buffering=0) as f:
            assert len(os.pread(f.fileno(), 4096, 0)) == 4096
            with open(src / "big.bin", "r+b") as w:  # in place, same size
                w.seek(6 << 20)
                w.write(b"\0" * 4096)
            with pytest.raises(OSError) as ei:
                os.pread(f.fileno(), 4096, 6 << 20)
            assert ei.value.errno == errno.EIO


def test_verify_hash_catches_restored_mtime(small):
    tmp, src, make = small
    catalog = make()
    st = os.stat(src / "f.txt")
    (src / "f.txt").write_bytes(b"ORIGINAL BYTES\n")
    os.utime(src / "f.txt", ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as recorded
    with mounted(catalog, str(tmp / "mnt"), "-o", "verify=hash") as m:
        assert read_errno(os.path.join(m.path, "f.txt")) == errno.EIO
        assert open(os.path.join(m.path, "keep.txt"), "rb").read() == b"untouched\n"
        time.sleep(0.2)
        assert "sha256" in m.stderr()


def test_verify_hash_holds_for_every_read(small):
    """verify=hash: after the open-time hash, a source whose ctime moves
    (here a utime that restores the very same mtime, after bytes were
    rewritten in place) is not served any more: the read fails."""
    tmp, src, make = small
    catalog = make()
    with mounted(catalog, str(tmp / "mnt"), "-o", "verify=hash", "-o", "readahead=128") as m:
        with open(os.path.join(m.path, "big.bin"), "rb", buffering=0) as f:
            assert len(os.pread(f.fileno(), 4096, 0)) == 4096
            st = os.stat(src / "big.bin")
            with open(src / "big.bin", "r+b") as w:  # same size, other bytes, mtime restored
                w.seek(6 << 20)
                w.write(b"\1" * 4096)
            os.utime(src / "big.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
            with pytest.raises(OSError) as ei:
                os.pread(f.fileno(), 4096, 6 << 20)
            assert ei.value.errno == errno.EIO
        # and a new open hashes again: the content differs now
        assert read_errno(os.path.join(m.path, "big.bin")) == errno.EIO
        time.sleep(0.2)
        assert "changed since it was hashed" in m.stderr(), m.stderr()


def test_writes_are_erofs(main_mount):
    m, _, _ = main_mount
    p = lambda *a: os.path.join(m.path, *a)
    attempts = {
        "open O_WRONLY": lambda: os.open(p("data", "ro.txt"), os.O_WRONLY),
        "open O_RDWR": lambda: os.open(p("data", "script.sh"), os.O_RDWR),
        "open O_TRUNC": lambda: os.open(p("data", "script.sh"), os.O_RDONLY | os.O_TRUNC),
        "create": lambda: os.open(p("data", "new.txt"), os.O_WRONLY | os.O_CREAT, 0o644),
        "mkdir": lambda: os.mkdir(p("data", "newdir")),
        "rmdir": lambda: os.rmdir(p("data", "empty_dir", "nested")),
        "unlink": lambda: os.unlink(p("data", "ro.txt")),
        "rename": lambda: os.rename(p("data", "ro.txt"), p("data", "ro2.txt")),
        "link": lambda: os.link(p("data", "ro.txt"), p("data", "hard")),
        "symlink": lambda: os.symlink("x", p("data", "sym")),
        "chmod": lambda: os.chmod(p("data", "ro.txt"), 0o777),
        "chown": lambda: os.chown(p("data", "ro.txt"), 1, 1),
        "truncate": lambda: os.truncate(p("data", "ro.txt"), 0),
        "utime": lambda: os.utime(p("data", "ro.txt"), (1, 1)),
        "setxattr": lambda: os.setxattr(p("data", "ro.txt"), "user.x", b"1"),
        "mknod": lambda: os.mkfifo(p("data", "fifo")),
    }
    for what, fn in attempts.items():
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.EROFS, what


@pytest.mark.parametrize("kind", ["random", "foreign_sqlite", "newer_schema", "no_tree", "missing"])
@pytest.mark.parametrize("foreground", [True, False])
def test_bad_catalog_refused(small, kind, foreground):
    tmp, src, make = small
    catalog = str(tmp / "bad.db")
    if kind == "random":
        with open(catalog, "wb") as f:
            f.write(random.Random(3).randbytes(8192))
    elif kind == "foreign_sqlite":
        db = sqlite3.connect(catalog)
        db.execute("CREATE TABLE tree(id INTEGER PRIMARY KEY, x TEXT)")
        db.commit()
        db.close()
    elif kind == "newer_schema":
        shutil.copy(make(), catalog)
        db = sqlite3.connect(catalog)
        db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
        db.commit()
        db.close()
    elif kind == "no_tree":
        shutil.copy(make(), catalog)
        db = sqlite3.connect(catalog)
        db.execute("DELETE FROM tree")
        db.commit()
        db.close()
    mnt = tmp / "mnt"
    mnt.mkdir()
    args = [PFMOUNT, catalog, str(mnt)] + (["-f"] if foreground else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pfmount: ") and catalog in lines[0], r.stderr
    want = {"random": "not a pyfarm catalog", "foreign_sqlite": "not a pyfarm catalog",
            "newer_schema": "newer", "no_tree": "no dist tree", "missing": "No such file"}[kind]
    assert want in lines[0], lines[0]
    assert not is_mounted(str(mnt))


def test_sigterm_while_busy_unmounts(small):
    tmp, src, make = small
    catalog = make()
    mnt = str(tmp / "mnt")
    # open and read in a loop: every open is a FUSE request even when the
    # pages are cached
    busy = ("import os, sys\n"
            "while True:\n"
            "    for n in ('big.bin', 'f.txt', 'keep.txt'):\n"
            "        with open(os.path.join(sys.argv[1], n), 'rb') as f: f.read()\n")
    with mounted(catalog, mnt) as m:
        reader = subprocess.Popen([sys.executable, "-c", busy, mnt], stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            assert reader.poll() is None
            m.proc.send_signal(signal.SIGTERM)
            assert m.proc.wait(timeout=15) == 0, m.stderr()
            assert not is_mounted(mnt)
        finally:
            reader.kill()
            reader.wait()
        assert m.stderr() == "", m.stderr()


def test_background_mode_and_fusermount_unmount(small):
    tmp, src, make = small
    catalog = make()
    mnt = str(tmp / "mnt")
    os.makedirs(mnt)
    log = open(tmp / "bg.log", "w")
    r = subprocess.run([PFMOUNT, catalog, mnt], stdout=log, stderr=log, timeout=30)
    try:
        assert r.returncode == 0
        assert is_mounted(mnt)  # mounted before the parent returned
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, mnt)]
        assert len(pids) == 1
        assert open(os.path.join(mnt, "f.txt"), "rb").read() == b"original bytes\n"
        os.unlink(src / "keep.txt")
        assert read_errno(os.path.join(mnt, "keep.txt")) == errno.EIO
    finally:
        subprocess.run(["fusermount3", "-u", mnt], check=False)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pids[0]}") and _cmdline_has(str(pids[0]), mnt):
        assert time.monotonic() < deadline, "pfmount did not exit after fusermount3 -u"
        time.sleep(0.05)
    assert not is_mounted(mnt)
    log.close()
    text = open(tmp / "bg.log").read()  # the daemon kept logging to our file
    assert "keep.txt" in text and text.count("\n") == 1, text


def _cmdline_has(pid, needle):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return bool(args) and args[0].endswith(b"pfmount") and needle.encode() in args


# ---- one catalog for the mount's lifetime -------------------------------------

REPLACE_READER = r"""
import hashlib, json, os, random, sys, time
root, want_json, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
want = json.load(open(want_json))
names = sorted(want)
rnd = random.Random(seed)
ok = wrong = errors = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    name = rnd.choice(names)
    try:
        fd = os.open(os.path.join(root, name), os.O_RDONLY)
        try:
            h = hashlib.sha256()
            while chunk := os.read(fd, 1 << 16):
                h.update(chunk)
            # drop this file's cached pages: the next read goes to pfmount
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except OSError as e:
        errors += 1
        print("ERROR", name, e, file=sys.stderr)
        continue
    if h.hexdigest() == want[name]:
        ok += 1
    else:
        wrong += 1
print(json.dumps({"ok": ok, "wrong": wrong, "errors": errors}))
"""


def test_replaced_catalog_keeps_serving_the_one_mounted(tmp_path):
    """`mv new.db cat.db` (what re-running pfanalyze does) while 16
    processes read and compare bytes: every read still gets the mounted
    catalog's bytes (0 wrong), and the log says the file was replaced."""
    import json
    srcs = []
    for k in range(3):  # same names and sizes, other bytes
        src = tmp_path / f"src{k}"
        src.mkdir()
        rnd = random.Random(100 + k)
        for i in range(48):
            (src / f"f{i:02}.bin").write_bytes(rnd.randbytes(20000 + 997 * i))
        srcs.append(src)
    cat = str(tmp_path / "cat.db")
    mkcatalog(cat, str(srcs[0]))
    templates = []
    for k in (1, 2):
        t = str(tmp_path / f"new{k}.db")
        mkcatalog(t, str(srcs[k]))
        templates.append(t)
    want = {p.name: sha(p.read_bytes()) for p in srcs[0].iterdir()}
    want_json = tmp_path / "want.json"
    want_json.write_text(json.dumps(want))
    seconds = 8.0
    # timeout=0: every lookup and open reaches pfmount; lazily started
    # worker threads open their connection after the replacements
    with mounted(cat, str(tmp_path / "mnt"), "-o", "timeout=0", "-o", "max_threads=16") as m:
        readers = [subprocess.Popen([sys.executable, "-c", REPLACE_READER, m.path, str(want_json),
                                     str(seconds), str(i)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for i in range(16)]
        end = time.monotonic() + seconds - 1
        n = 0
        while time.monotonic() < end:
            tmp = cat + ".tmp"
            shutil.copy(templates[n % 2], tmp)
            os.rename(tmp, cat)  # mv new.db cat.db
            n += 1
            time.sleep(0.15)
        results = []
        for p in readers:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            results.append(json.loads(out))
        log = m.stderr()
    total = {k: sum(r[k] for r in results) for k in ("ok", "wrong", "errors")}
    assert n >= 5
    assert total["wrong"] == 0 and total["errors"] == 0, total
    assert total["ok"] >= 16 * 20, total
    assert "was replaced" in log and "still serving" in log, log
    assert log.count("was replaced") == 1, log
    print(f"replaced {n} times; reads: {total}")
