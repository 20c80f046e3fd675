"""Who can read what through a root pfmount (docs/pfmount.md, "Who can
read what"), tested as the unprivileged user nobody (setpriv).

The catalog is hostile where it can be: it widens every file's mode to
0644 and names sources another user may not read. Through the mount:
- without -o allow_other, nobody reaches nothing (not even the root folder);
- with it, nobody reads a file only if the catalog's mode lets them (the
  kernel, default_permissions) AND the source's own mode bits would let
  them read the source (pfmount, per open, with their uid, gid and
  supplementary groups); files without a source (generated) follow the
  catalog's mode only;
- nobody, not even root, reads a source outside the catalog's roots (here
  a symlink inside the root leading to /etc/shadow).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pfmount_unit import MKCATALOG, PFMOUNT, mounted  # noqa: E402

NOBODY = 65534
SHADOW_GID = 42
PY = "/usr/bin/python3"  # readable by nobody (pyenv's lives under /root)

pytestmark = pytest.mark.skipif(
    not (os.path.exists(PFMOUNT) and os.path.exists(MKCATALOG))
    or not os.path.exists("/dev/fuse") or os.geteuid() != 0
    or shutil.which("fusermount3") is None or shutil.which("setpriv") is None
    or not os.path.exists(PY),
    reason="needs built pfmount and mkcatalog, root, /dev/fuse, fusermount3, setpriv, /usr/bin/python3",
)

PROBE = r"""
import json, os, sys
out = {}
for rel in sys.argv[2:]:
    try:
        with open(os.path.join(sys.argv[1], rel), "rb") as f:
            out[rel] = f.read().decode()
    except OSError as e:
        out[rel] = e.errno
print(json.dumps(out))
"""

# name: (content, source mode, owner uid, group gid)
FILES = {
    "pub.txt": ("public\n", 0o644, 0, 0),
    "secret.txt": ("root only\n", 0o600, 0, 0),
    "shadowlike": ("group shadow\n", 0o640, 0, SHADOW_GID),
    "mine.txt": ("nobody's own\n", 0o600, NOBODY, NOBODY),
    "groupnog.txt": ("group nogroup\n", 0o640, 0, NOBODY),
    "exec_only": ("x\n", 0o711, 0, 0),
}


def probe(mnt, names, *cred):
    argv = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), *cred, PY, "-S", "-c", PROBE, mnt, *names]
    if not cred:
        argv[5:5] = ["--clear-groups"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def setup():
    top = tempfile.mkdtemp(prefix="pfmount-users-")
    os.chmod(top, 0o755)  # nobody must reach the mount point
    src = os.path.join(top, "src")
    os.mkdir(src)
    for name, (text, mode, uid, gid) in FILES.items():
        p = os.path.join(src, name)
        with open(p, "w") as f:
            f.write(text)
        os.chown(p, uid, gid)
        os.chmod(p, mode)
    # a source that leads out of the root (the catalog's /etc/shadow)
    os.symlink("/etc/shadow", os.path.join(src, "shadow"))
    cat = os.path.join(top, "cat.db")
    subprocess.run([MKCATALOG, cat, src, "--patched", "secret.patched=" + os.path.join(src, "secret.txt"),
                    "--literal", "gen.txt=generated\n"], check=True)
    st = os.stat("/etc/shadow")
    db = sqlite3.connect(cat)
    db.execute("UPDATE tree SET mode = 420 WHERE type = 'f'")  # widen everything to 0644
    # the symlink entry becomes a file entry whose source is the link
    db.execute("UPDATE tree SET type = 'f', target = NULL, source = ?, size = ?, src_size = ?,"
               " src_mtime_ns = ?, sha256 = NULL WHERE path = 'shadow'",
               (os.path.join(src, "shadow"), st.st_size, st.st_size, st.st_mtime_ns))
    db.commit()
    db.close()
    yield top, src, cat
    shutil.rmtree(top, ignore_errors=True)


def test_without_allow_other_nobody_reaches_nothing(setup):
    top, src, cat = setup
    with mounted(cat, os.path.join(top, "mnt")) as m:
        assert open(os.path.join(m.path, "pub.txt")).read() == "public\n"  # root, the mounter
        got = probe(m.path, ["pub.txt"])
        assert got == {"pub.txt": 13}, got  # EACCES: the kernel keeps others out
        with open("/proc/mounts") as f:
            line = next(l for l in f if l.split()[1] == os.path.realpath(m.path))
        assert "allow_other" not in line


def test_allow_other_serves_what_the_user_may_read(setup):
    top, src, cat = setup
    names = sorted(FILES) + ["secret.patched", "gen.txt", "shadow"]
    with mounted(cat, os.path.join(top, "mnt"), "-o", "allow_other") as m:
        as_nobody = probe(m.path, names)
        with_shadow_group = probe(m.path, names, "--groups", str(SHADOW_GID))
        as_root = {}
        for n in names:
            try:
                as_root[n] = open(os.path.join(m.path, n)).read()
            except OSError as e:
                as_root[n] = e.errno
        log = m.stderr()
    text = {n: FILES[n][0] for n in FILES}
    assert as_nobody == {
        "pub.txt": text["pub.txt"],
        "secret.txt": 13,          # source 0600 root: the catalog's 0644 does not open it
        "shadowlike": 13,          # 0640 root:shadow, nobody not in shadow
        "mine.txt": text["mine.txt"],          # owner
        "groupnog.txt": text["groupnog.txt"],  # primary group
        "exec_only": 13,           # 0711: no read bit for others
        "secret.patched": 13,      # patched over an unreadable source
        "gen.txt": "generated\n",  # no source: the catalog's own bytes
        "shadow": 13,              # outside the roots
    }, as_nobody
    # a supplementary group counts (fuse_req_getgroups)
    assert with_shadow_group["shadowlike"] == text["shadowlike"], with_shadow_group
    assert with_shadow_group["secret.txt"] == 13
    # root reads every source under the roots, and still not /etc/shadow
    for n in FILES:
        assert as_root[n] == text[n], (n, as_root[n])
    assert as_root["shadow"] == 13, as_root["shadow"]
    assert "outside the catalog's source roots" in log and "/etc/shadow" in log, log
