"""The ELF patcher on real binaries: every rewritten file loads, keeps
eu-elflint's verdict, every program header and note of its source, and costs
the catalog kilobytes; renamed DT_NEEDED, DT_SONAME, DT_VERNEED and DT_VERDEF
stay consistent so that versioned symbols still bind; a moved program header
table keeps the AT_PHDR rule of old kernels; files whose headers overlap are
refused; the sources are never modified. (bench/elf_census.py runs the same
patcher over every dynamic ELF of the system and of popular wheels.)"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyfarm_testlib import PYENV_PYTHON, REPO

sys.path.insert(0, str(REPO / "bench"))
from elf_census import PT_LOAD, PT_NOTE, PT_PHDR, Elf  # noqa: E402

LIBDIR = "/usr/lib/x86_64-linux-gnu"
LOADER = "/lib64/ld-linux-x86-64.so.2"


def cli(*args, ok=True):
    exe = os.path.join(os.environ["PYFARM_BUILD"], "tests", "elfpatch_cli")
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    if not ok:
        return r
    assert r.returncode == 0, r.stderr
    return r.stdout


def headers_kept(src, out):
    """Every program header of the source is still there (one PT_LOAD more),
    every note unchanged, and the table is where the kernel looks for it."""
    a, b = Elf(str(src)), Elf(str(out))
    assert len(b.ph) == len(a.ph) + 1
    assert b.notes == a.notes and len(b.notes) == len([p for p in a.ph if p.type == PT_NOTE])
    assert sorted(p.type for p in b.ph) == sorted([p.type for p in a.ph] + [PT_LOAD])
    loads = [p for p in b.ph if p.type == PT_LOAD]
    assert [p.vaddr for p in loads] == sorted(p.vaddr for p in loads)
    table = b.phdr_table_va()
    assert table is not None, "program header table not mapped"
    for p in b.ph:
        if p.type == PT_PHDR:
            assert (p.offset, p.vaddr, p.filesz) == (b.phoff, table, 56 * len(b.ph))
    if a.may_run:  # kernels < 5.18: AT_PHDR = first PT_LOAD's load address + e_phoff
        assert loads[0].vaddr - loads[0].offset + b.phoff == table
    return a, b


def sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def elflint(p):
    r = subprocess.run(["eu-elflint", "--gnu-ld", str(p)], capture_output=True, text=True)
    return sorted(line.split(":", 1)[-1] for line in (r.stdout + r.stderr).splitlines() if line)


def dynamic(p):
    return subprocess.run(["readelf", "-dW", str(p)], capture_output=True, text=True, check=True).stdout


def sample_libraries():
    files = sorted(glob.glob("/usr/lib/python3.11/lib-dynload/*.so"))
    for pat in ("libssl.so.3", "libcrypto.so.3", "libstdc++.so.6*", "libz.so.1*", "libsqlite3.so.0*",
                "libffi.so.8*", "libexpat.so.1*", "libgfortran.so.5*", "libxml2.so.2*", "libzstd.so.1*"):
        files += sorted(glob.glob(os.path.join(LIBDIR, pat)))
    return [f for f in files if os.path.isfile(f) and not os.path.islink(f)]


def test_rpath_rewrite_keeps_every_library_valid_and_loadable(tmp_path):
    libs = sample_libraries()
    assert len(libs) > 40
    before = {f: sha(f) for f in libs}
    for f in libs:
        out = tmp_path / os.path.basename(f)
        cli(f, out, "--rpath", "$ORIGIN/../lib:$ORIGIN")
        assert "$ORIGIN/../lib:$ORIGIN" in dynamic(out) and "RUNPATH" not in dynamic(out)
        assert elflint(out) == elflint(f), f
        headers_kept(f, out)
        r = subprocess.run([LOADER, "--list", str(out)], capture_output=True, text=True)
        assert r.returncode == 0, (f, r.stderr)
    # every patched library really loads in a process (constructors run)
    code = "import ctypes, sys\nfor p in sys.argv[1:]: ctypes.CDLL(p)\nprint('loaded', len(sys.argv) - 1)"
    outs = [str(tmp_path / os.path.basename(f)) for f in libs if "lib-dynload" not in f]
    r = subprocess.run([sys.executable, "-c", code, *outs], capture_output=True, text=True)
    assert r.returncode == 0 and f"loaded {len(outs)}" in r.stdout, r.stderr
    assert {f: sha(f) for f in libs} == before, "a source file was modified"
    print(f"patched {len(libs)} libraries; eu-elflint verdicts unchanged; all load")


@pytest.mark.parametrize("python", ["/usr/bin/python3.11", PYENV_PYTHON])
def test_patched_interpreters_run_with_their_libraries_moved(tmp_path, python):
    if not os.path.exists(python):
        pytest.skip(f"{python} is not on this machine")
    real = os.path.realpath(python)
    prefix = Path(real).parent.parent
    bindir, libdir = tmp_path / "bin", tmp_path / "lib"
    bindir.mkdir()
    libdir.mkdir()
    listing = subprocess.run([LOADER, "--list", real], capture_output=True, text=True, check=True).stdout
    moved = []
    for line in listing.splitlines():
        if "=>" in line:
            name, path = line.split("=>")[0].strip(), line.split("=>")[1].split("(")[0].strip()
            if not name.startswith(("libc.so", "libm.so", "ld-linux")) and path:
                shutil.copy(path, libdir / name)
                moved.append(name)
    exe = bindir / "python3.11"
    cli(real, exe, "--rpath", "$ORIGIN/../lib")
    src, new = headers_kept(real, exe)
    assert src.is_executable and src.may_run and new.phoff != src.phoff  # the table moved
    notes = subprocess.run(["readelf", "-nW", str(exe)], capture_output=True, text=True).stdout
    assert "Build ID" in notes and notes.replace(str(exe), "") == subprocess.run(
        ["readelf", "-nW", real], capture_output=True, text=True).stdout.replace(real, "")
    env = {"PYTHONHOME": str(prefix), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(exe), "-c", "import ssl, sqlite3, ctypes, json; print('ok')"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    r = subprocess.run([LOADER, "--list", str(exe)], capture_output=True, text=True, check=True)
    found = {line.split("=>")[0].strip(): os.path.normpath(line.split("=>")[1].split("(")[0].strip())
             for line in r.stdout.splitlines() if "=>" in line}
    for name in moved:
        assert found[name] == str(libdir / name), r.stdout


def test_rename_soname_needed_and_version_records(tmp_path):
    crypto, ssl = os.path.join(LIBDIR, "libcrypto.so.3"), os.path.join(LIBDIR, "libssl.so.3")
    assert "VERDEF" in dynamic(crypto) or "VERSYM" in dynamic(crypto)
    new = "libcrypto-1a2b3c4d.so.3"
    cli(crypto, tmp_path / new, "--soname", new, "--rpath", "$ORIGIN")
    cli(ssl, tmp_path / "libssl.so.3", "--rename", f"libcrypto.so.3={new}", "--rpath", "$ORIGIN")
    d = dynamic(tmp_path / "libssl.so.3")
    assert f"[{new}]" in d and "[libcrypto.so.3]" not in d
    assert f"[{new}]" in dynamic(tmp_path / new)
    vers = subprocess.run(["readelf", "-VW", str(tmp_path / "libssl.so.3")], capture_output=True, text=True).stdout
    assert f"File: {new}" in vers and "OPENSSL_3.0.0" in vers
    vdef = subprocess.run(["readelf", "-VW", str(tmp_path / new)], capture_output=True, text=True).stdout
    assert new in vdef  # the base version definition names the new SONAME
    for f in (new, "libssl.so.3"):
        assert elflint(tmp_path / f) == elflint(os.path.join(LIBDIR, "libcrypto.so.3" if f == new else f))
    # versioned symbols still bind: libssl calls into the renamed libcrypto
    code = ("import ctypes, sys\n"
            "s = ctypes.CDLL(sys.argv[1])\n"
            "s.OpenSSL_version.restype = ctypes.c_char_p\n"
            "s.TLS_method.restype = ctypes.c_void_p\n"
            "s.SSL_CTX_new.restype = ctypes.c_void_p\n"
            "s.SSL_CTX_new.argtypes = [ctypes.c_void_p]\n"
            "ctx = s.SSL_CTX_new(s.TLS_method())\n"
            "print(s.OpenSSL_version(0).decode().split()[0], bool(ctx))\n"
            "print(any(sys.argv[2] in l for l in open('/proc/self/maps')))\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "libssl.so.3"), new],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["OpenSSL", "True", "True"], r.stdout + r.stderr


def test_patch_of_a_big_library_costs_kilobytes(tmp_path):
    cands = sorted((os.path.getsize(p), p) for p in glob.glob(os.path.join(LIBDIR, "*.so*"))
                   if os.path.isfile(p) and not os.path.islink(p))
    size, big = cands[-1]
    assert size > 10_000_000
    out = cli(big, tmp_path / "big.so", "--rpath", "$ORIGIN/../../lib:$ORIGIN", "--stats")
    patch_bytes = int(out.split("patch ")[1].split()[0])
    print(f"{os.path.basename(big)}: {size} bytes, patch {patch_bytes} bytes")
    assert patch_bytes < 64 * 1024
    assert elflint(tmp_path / "big.so") == elflint(big)


def test_nothing_to_change_gives_no_patch(tmp_path):
    out = cli(os.path.join(LIBDIR, "libz.so.1"), tmp_path / "z", "--stats")
    assert out.startswith("unchanged")


def test_repeated_needed_is_renamed_once_and_deduped(tmp_path):
    """`patchelf --add-needed` of a name already needed gives two DT_NEEDED
    entries naming one string and one DT_VERNEED record: renaming it must
    not edit those bytes twice (that made the patch longer than declared)."""
    ssl = tmp_path / "libssl.so.3"
    shutil.copy(os.path.join(LIBDIR, "libssl.so.3"), ssl)
    subprocess.run(["patchelf", "--add-needed", "libcrypto.so.3", str(ssl)], check=True)
    assert Elf(str(ssl)).strings(1).count("libcrypto.so.3") == 2
    new = "libcrypto-5e5e5e5e.so.3"
    os.symlink(os.path.join(LIBDIR, "libcrypto.so.3"), tmp_path / new)
    out = tmp_path / "out" / "libssl.so.3"
    out.parent.mkdir()
    os.symlink(os.path.join(LIBDIR, "libcrypto.so.3"), out.parent / new)
    cli(ssl, out, "--rename", f"libcrypto.so.3={new}", "--rpath", "$ORIGIN")
    needed = Elf(str(out)).strings(1)
    assert needed.count(new) == 1 and "libcrypto.so.3" not in needed, needed
    vers = subprocess.run(["readelf", "-VW", str(out)], capture_output=True, text=True).stdout
    assert f"File: {new}" in vers and "File: libcrypto.so.3" not in vers
    assert elflint(out) == elflint(ssl)
    code = "import ctypes, sys; ctypes.CDLL(sys.argv[1]); print('ok')"
    r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_overlapping_headers_are_refused(tmp_path):
    """A crafted library whose base version definition points its auxiliary
    record at its own hash field: the SONAME edit writes both, the bytes
    overlap, and the patcher refuses instead of emitting a shifted patch."""
    src = os.path.join(LIBDIR, "libz.so.1")
    data = bytearray(Path(os.path.realpath(src)).read_bytes())
    vd_off = int(subprocess.run(["readelf", "-SW", src], capture_output=True, text=True, check=True)
                 .stdout.split(".gnu.version_d")[1].split()[2], 16)
    assert int.from_bytes(data[vd_off + 2:vd_off + 4], "little") & 1  # VER_FLG_BASE
    data[vd_off + 12:vd_off + 16] = (8).to_bytes(4, "little")  # vd_aux -> vd_hash
    bad = tmp_path / "libz-crafted.so.1"
    bad.write_bytes(bytes(data))
    r = cli(bad, tmp_path / "out.so", "--soname", "libz-new.so.1", ok=False)
    assert r.returncode == 1 and "refused" in r.stderr and "overlap" in r.stderr, r.stderr
    assert not (tmp_path / "out.so").exists()
    # the same file without the SONAME edit has nothing overlapping: patched
    cli(bad, tmp_path / "ok.so", "--rpath", "$ORIGIN")


def test_table_grows_into_slack_left_by_patchelf(tmp_path):
    """patchelf leaves filler after the program header table when it moves
    sections away; one more header fits there and the table stays put."""
    z = tmp_path / "libz.so.1"
    shutil.copy(os.path.realpath(os.path.join(LIBDIR, "libz.so.1")), z)
    subprocess.run(["patchelf", "--set-rpath", "/x" * 200, str(z)], check=True)
    out = tmp_path / "out" / "libz.so.1"
    out.parent.mkdir()
    cli(z, out, "--rpath", "$ORIGIN", "--soname", "libz-0f0f0f0f.so.1")
    src, new = headers_kept(z, out)
    assert new.phoff == src.phoff
    assert elflint(out) == elflint(z)
    code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).zlibVersion() != 0)"
    r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr


def test_glibc_identity_edits_are_refused(tmp_path):
    """glibc's loader finds itself and libc by their SONAMEs and asserts that
    it has no RPATH: such edits would give files that crash when run (seen:
    libc.so.6 renamed segfaults when run; ld.so with an RPATH aborts)."""
    ld = os.path.realpath(LOADER)
    for args in (["--soname", "ld-other.so.2"], ["--rpath", "$ORIGIN"]):
        r = cli(ld, tmp_path / "ld.so", *args, ok=False)
        assert r.returncode == 1 and "dynamic loader" in r.stderr, r.stderr
    r = cli(os.path.join(LIBDIR, "libc.so.6"), tmp_path / "libc.so", "--soname", "libc-x.so.6", ok=False)
    assert r.returncode == 1 and "libc keeps its SONAME" in r.stderr, r.stderr
    # what pyfarm does do to libc, a search path, keeps it runnable as a program
    libc = tmp_path / "libc.so.6"
    cli(os.path.join(LIBDIR, "libc.so.6"), libc, "--rpath", "$ORIGIN")
    headers_kept(os.path.join(LIBDIR, "libc.so.6"), libc)
    r = subprocess.run([str(libc)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("GNU C Library"), r.stderr
