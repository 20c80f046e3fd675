"""Helpers for pyfarm's integration tests: the built tools, cached venvs
and distro roots, isolated runs (bwrap), tree hashes and mounts.

Isolation is the proof of a dist: run_isolated shows the dist nothing of the
host but the glibc family and /bin/sh (no Python, no venv, no other
library); run_empty_root shows it nothing at all but /proc, /dev and /tmp."""
import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("PYFARM_BUILD", REPO / "build")).resolve()
os.environ["PYFARM_BUILD"] = str(BUILD)
CACHE = Path(os.environ.get("PYFARM_TEST_CACHE", Path.home() / ".cache" / "pyfarm-tests"))
LIBDIR = "/usr/lib/x86_64-linux-gnu"
GLIBC = ("ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libmvec.so.1", "libpthread.so.0",
         "libdl.so.2", "librt.so.1", "libutil.so.1", "libresolv.so.2", "libanl.so.1")
PYENV_ROOT = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
PYENV_PYTHON = os.path.join(PYENV_ROOT, "versions", "3.11.7", "bin", "python3.11")


def tool(name):
    sub = {"pfanalyze": "analyzer", "pfexport": "tools", "pfmount": "fs", "pfwhy": "tools",
           "pfldd": "tools"}[name]
    return str(BUILD / sub / name)


def base_python():
    return PYENV_PYTHON if os.path.exists(PYENV_PYTHON) else "/usr/bin/python3"


@contextlib.contextmanager
def _locked(name):
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        yield


def make_venv(name, requirements, python=None):
    """A venv with pinned requirements from PyPI, made once and cached (the
    key includes the pins). Made in place, since venvs hold absolute paths;
    a marker makes an interrupted build start over."""
    python = python or base_python()
    key = hashlib.sha256(("\n".join([python, *requirements])).encode()).hexdigest()[:12]
    path = CACHE / f"venv-{name}-{key}"
    with _locked(f"venv-{name}"):
        partial = path / ".partial"
        if path.exists() and not partial.exists():
            return path
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(path)], check=True)
        partial.touch()
        if requirements:
            subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", *requirements], check=True)
        partial.unlink()
    return path


def _sandbox_env(env):
    e = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "USER": "tester"}
    e.update(env or {})
    return e


def _bwrap(binds, argv, env=None, cwd=None, timeout=900):
    cmd = ["bwrap", "--die-with-parent", "--clearenv"]
    for k, v in _sandbox_env(env).items():
        cmd += ["--setenv", k, v]
    cmd += binds + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if cwd:
        cmd += ["--chdir", cwd]
    return subprocess.run(cmd + list(argv), capture_output=True, text=True, timeout=timeout)


def host_glibc_binds():
    binds = ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--ro-bind", "/lib64/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2",
             "--ro-bind", "/bin/dash", "/bin/sh", "--ro-bind", "/usr/bin/getconf", "/usr/bin/getconf"]
    for name in GLIBC:
        p = os.path.join(LIBDIR, name)
        if os.path.exists(p):
            binds += ["--ro-bind", p, p]
    return binds


def run_isolated(dist, argv, *, extra_binds=(), env=None, cwd=None, at="/dist"):
    """Run argv with only the dist (at `at`), the host's glibc family and
    /bin/sh visible: no Python, no venv, no other library of the host."""
    binds = ["--ro-bind", str(dist), at] + host_glibc_binds() + list(extra_binds)
    return _bwrap(binds, argv, env, cwd)


def run_empty_root(dist, argv, *, env=None, cwd=None, at="/dist"):
    """Only the dist, /proc, /dev and /tmp: for hermetic dists."""
    return _bwrap(["--ro-bind", str(dist), at], argv, env, cwd)


def run_in_root(root, dist, argv, *, env=None, cwd=None, at="/dist"):
    """Inside a distro root (debootstrap), the dist bound in."""
    return _bwrap(["--ro-bind", str(root), "/", "--ro-bind", str(dist), at], argv, env, cwd)


def tool_bundle(dest):
    """pfanalyze and pfexport with the host libraries they need and the
    host's loader, to run inside another distro's root:
    dest/lib/ld-linux-x86-64.so.2 --library-path dest/lib dest/bin/TOOL."""
    dest = Path(dest)
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    (dest / "lib").mkdir(exist_ok=True)
    tools = [tool("pfanalyze"), tool("pfexport"), str(BUILD / "analyzer" / "libpfpreload.so"),
             str(BUILD / "tools" / "pflaunch")]
    for t in tools:
        shutil.copy(t, dest / "bin")
    for t in tools[:2]:
        out = subprocess.run(["/lib64/ld-linux-x86-64.so.2", "--list", t], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            if "=>" in line:
                path = line.split("=>")[1].split("(")[0].strip()
                shutil.copy(path, dest / "lib" / line.split("=>")[0].strip())
    shutil.copy("/lib64/ld-linux-x86-64.so.2", dest / "lib" / "ld-linux-x86-64.so.2")
    return dest


def apt_mirror():
    """The Debian mirror the machine's apt sources name (the one serving the
    release, not its security archive)."""
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")
                                               + glob.glob("/etc/apt/sources.list.d/*.sources"))
    for f in files:
        try:
            text = Path(f).read_text()
        except OSError:
            continue
        for stanza in text.split("\n\n"):  # deb822 .sources
            fields = dict(line.split(":", 1) for line in stanza.splitlines()
                          if ":" in line and not line.startswith("#") and not line.startswith(" "))
            uris, suites = fields.get("URIs", "").split(), fields.get("Suites", "").split()
            if "bookworm" in suites:
                return uris[0] if uris else None
        for line in text.splitlines():  # one-line format
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == "bookworm":
                return parts[1]
    return None


MOUNT_POINTS = ("dist", "app", "out", "pf")


def debootstrap_root(suite, packages=()):
    """A minbase root of a Debian suite, cached; None when it cannot be made."""
    key = hashlib.sha256(" ".join([suite, *packages]).encode()).hexdigest()[:8]
    root = CACHE / f"root-{suite}-{key}"
    with _locked(f"root-{suite}"):
        if (root / ".complete").exists():
            for d in MOUNT_POINTS:  # the root is bound read-only: mount points made here
                (root / d).mkdir(exist_ok=True)
            return root
        mirror = apt_mirror()
        if not mirror or not shutil.which("debootstrap"):
            return None
        shutil.rmtree(root, ignore_errors=True)
        cmd = ["debootstrap", "--variant=minbase"]
        if packages:
            cmd.append("--include=" + ",".join(packages))
        r = subprocess.run(cmd + [suite, str(root), mirror], capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            return None
        for d in MOUNT_POINTS:
            (root / d).mkdir(exist_ok=True)
        (root / ".complete").touch()
    return root


def tree_listing(path):
    """path -> (type, mode, size, link target, sha256) for everything under path."""
    out = {}
    base = Path(path)
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(base))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", 0, 0, os.readlink(p), None)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode), 0, None, None)
            else:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_size, None, h.hexdigest())
    return out


def tree_hash(path):
    h = hashlib.sha256()
    for rel, entry in sorted(tree_listing(path).items()):
        h.update(repr((rel, entry)).encode())
    return h.hexdigest()


def analyze(catalog, argv, *opts, env=None, cwd=None, check=True):
    cmd = [tool("pfanalyze"), "-c", str(catalog), *map(str, opts), "--", *map(str, argv)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=1800)
    if check:
        assert r.returncode == 0, f"pfanalyze failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


def reanalyze(catalog, *opts, check=True):
    r = subprocess.run([tool("pfanalyze"), "-c", str(catalog), "--reanalyze", *map(str, opts)],
                       capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def export(catalog, out, *opts):
    r = subprocess.run([tool("pfexport"), *map(str, opts), str(catalog), str(out)],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"pfexport failed:\n{r.stderr}"
    return r


def _mounted_now(mnt):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == str(mnt) for line in f)


@contextlib.contextmanager
def mounted(catalog, mnt, *opts):
    """pfmount CATALOG MNT -f in the background, until the block ends."""
    Path(mnt).mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([tool("pfmount"), str(catalog), str(mnt), "-f", *opts],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not _mounted_now(mnt):
            if proc.poll() is not None:
                raise AssertionError(f"pfmount exited {proc.returncode}: {proc.stderr.read()}")
            if time.time() > deadline:
                raise AssertionError("pfmount did not mount within 20 s")
            time.sleep(0.05)
        yield Path(mnt)
    finally:
        if _mounted_now(mnt):
            subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
