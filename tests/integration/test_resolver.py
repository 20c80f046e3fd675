"""The resolver (lib/resolve.c, through tools/pfldd) against the real loader.

test_system_corpus: every dynamically linked x86-64 ELF executable and
shared object of the system folders is listed by /lib64/ld-linux-x86-64.so.2
--list (or, when a dependency is missing, by the loader in trace mode, as ldd
runs it) and by pfldd; the sets of "name => path" lines must be equal.

The focused tests build small libraries with gcc in a temporary folder, one
loader rule each, and compare the same way (or, for dlopen, with what
dl_iterate_phdr reports in a real process).

The built binaries are found through PYFARM_BUILD (default
build/ of this checkout); extra venvs to scan through PYFARM_TEST_VENVS (colon
separated).
"""

import concurrent.futures
import glob
from pathlib import Path
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import pytest

BUILD = os.environ.get("PYFARM_BUILD", str(Path(__file__).resolve().parents[2] / "build"))
PFLDD = os.path.join(BUILD, "tools", "pfldd")
RTLD = "/lib64/ld-linux-x86-64.so.2"

ADDR = re.compile(r"\s*\(0x[0-9a-f]+\)$")

pytestmark = pytest.mark.skipif(
    not os.path.exists(PFLDD) or not os.path.exists(RTLD) or shutil.which("gcc") is None,
    reason="needs a built pfldd (PYFARM_BUILD), the x86-64 loader and gcc",
)


# ---- what to compare -------------------------------------------------------


def corpus_roots():
    roots = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/bin",
        "/usr/lib/python3/dist-packages",
        "/usr/lib/python3.11/lib-dynload",
    ]
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    roots += sorted(glob.glob(os.path.join(pyenv, "versions", "*", "lib")))
    roots += [v for v in os.environ.get("PYFARM_TEST_VENVS", "").split(":") if v]
    # the venvs the other tests made (numpy, opencv with their vendored libraries)
    cache = os.environ.get("PYFARM_TEST_CACHE", os.path.expanduser("~/.cache/pyfarm-tests"))
    roots += sorted(glob.glob(os.path.join(cache, "venv-*", "lib")))
    return [r for r in roots if os.path.isdir(r)]


def is_dynamic_x86_64(path):
    """A 64-bit little-endian x86-64 ET_EXEC/ET_DYN with a PT_DYNAMIC: what
    ld.so --list can list (static non-PIE executables crash it)."""
    try:
        with open(path, "rb") as f:
            eh = f.read(64)
            if len(eh) < 64 or eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
                return False
            e_type, e_machine = struct.unpack_from("<HH", eh, 16)
            phoff, = struct.unpack_from("<Q", eh, 32)
            phentsize, phnum = struct.unpack_from("<HH", eh, 54)
            if e_machine != 62 or e_type not in (2, 3) or phentsize != 56:
                return False
            f.seek(phoff)
            ph = f.read(56 * phnum)
            if len(ph) < 56 * phnum:
                return False
            return any(struct.unpack_from("<I", ph, 56 * i)[0] == 2 for i in range(phnum))
    except OSError:
        return False


def collect_files():
    """Regular files, plus symlinks that live in another folder than their
    target (the loader's $ORIGIN of a program given by a symlink is the
    symlink's folder). Each real file once."""
    seen, files = set(), []
    for root in corpus_roots():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    real = os.path.realpath(path)
                    if not os.path.isfile(real):
                        continue
                except OSError:
                    continue
                if os.path.islink(path):
                    key = path if os.path.dirname(real) != dirpath else real
                else:
                    key = real
                if key in seen:
                    continue
                seen.add(key)
                if is_dynamic_x86_64(path):
                    files.append(path)
    return files


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
    env.update(extra)
    return env


def normalize(lines):
    """The set of "name => path" lines, without addresses, the vDSO and the
    loader's own line (its spelling depends on how ld.so was started)."""
    out = set()
    for line in lines:
        line = ADDR.sub("", line.strip())
        if not line or line.startswith("linux-vdso.so"):
            continue
        if "ld-linux-x86-64.so.2" in line and "not found" not in line:
            continue
        out.add(line)
    return frozenset(out)


def run_loader(path, cwd, llp=None):
    """ld.so --list; when a dependency is missing (--list stops at the first
    one), the trace mode that ldd uses, which lists every "not found"."""
    env = clean_env(**({"LD_LIBRARY_PATH": llp} if llp is not None else {}))
    p = subprocess.run([RTLD, "--list", path], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0 and "cannot open shared object file" in p.stderr:
        env["LD_TRACE_LOADED_OBJECTS"] = "1"
        p = subprocess.run([RTLD, path], cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=60)
    if p.returncode < 0:
        return None  # the loader crashed on it: nothing to compare
    if p.returncode != 0 and not p.stdout.strip():
        return ("error",)
    return normalize(p.stdout.splitlines())


def run_pfldd(paths, cwd, llp=None, extra=()):
    """pfldd on many files at once; returns {path: normalized set}."""
    cmd = [PFLDD] + (["--ld-library-path", llp] if llp is not None else []) + list(extra)
    p = subprocess.run(cmd + ["--"] + paths, cwd=cwd, env=clean_env(), capture_output=True,
                       text=True, timeout=600)
    assert p.returncode in (0, 1, 2), p.stderr
    if len(paths) == 1:
        blocks = {paths[0]: p.stdout.splitlines()}
    else:
        blocks, cur = {}, None
        for line in p.stdout.splitlines():
            if not line.startswith("\t") and line.endswith(":"):
                cur = line[:-1]
                blocks[cur] = []
            elif cur is not None:
                blocks[cur].append(line)
    return {k: (("error",) if any(l.startswith("\terror:") for l in v) else normalize(v))
            for k, v in blocks.items()}


# ---- the whole system ------------------------------------------------------


def test_system_corpus(tmp_path):
    start = time.monotonic()
    files = collect_files()
    assert files, "no ELF files found"
    cwd = str(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) * 2) as pool:
        chunks = [files[i:i + 400] for i in range(0, len(files), 400)]
        ours_f = [pool.submit(run_pfldd, c, cwd) for c in chunks]
        real = dict(zip(files, pool.map(lambda f: run_loader(f, cwd), files)))
        ours = {}
        for f in ours_f:
            ours.update(f.result())
    mismatches, compared, skipped = [], 0, 0
    for path in files:
        want = real[path]
        if want is None:
            skipped += 1
            continue
        compared += 1
        got = ours.get(path)
        if got != want:
            mismatches.append((path, want, got))
    elapsed = time.monotonic() - start
    print(f"compared {compared} ELF files, {len(mismatches)} mismatches "
          f"({skipped} skipped: loader crashed; {elapsed:.1f} s)")
    for path, want, got in mismatches[:20]:
        print(f"MISMATCH {path}\n  loader only: {sorted(set(want) - set(got or ()))}"
              f"\n  pfldd only:  {sorted(set(got or ()) - set(want))}")
    assert not mismatches


# ---- focused cases -----------------------------------------------------------


def gcc(*args):
    # the libraries' own needs are the loader's business, not the linker's
    p = subprocess.run(["gcc", "-w", "-Wl,--allow-shlib-undefined"] + list(args),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def lib(path, soname=None, src="int v(void){return 1;}", needs=(), flags=()):
    """A shared library at path; needs are (folder, libname) to link."""
    c = str(path) + ".c"
    with open(c, "w") as f:
        f.write(src + "\n")
    args = ["-shared", "-fPIC", "-o", str(path), c, "-Wl,--no-as-needed"]
    if soname:
        args.append(f"-Wl,-soname,{soname}")
    for folder, name in needs:
        args += [f"-L{folder}", f"-l:{name}"]
    gcc(*(args + list(flags)))
    return str(path)


def exe(path, needs=(), flags=(), src="int main(void){return 0;}"):
    c = str(path) + ".c"
    with open(c, "w") as f:
        f.write(src + "\n")
    args = ["-o", str(path), c, "-Wl,--no-as-needed"]
    for folder, name in needs:
        args += [f"-L{folder}", f"-l:{name}"]
    gcc(*(args + list(flags)))
    return str(path)


def rpath(p):
    return [f"-Wl,-rpath,{p}", "-Wl,--disable-new-dtags"]


def runpath(p):
    return [f"-Wl,-rpath,{p}", "-Wl,--enable-new-dtags"]


def same(path, cwd, llp=None):
    want = run_loader(path, cwd, llp)
    got = run_pfldd([path], cwd, llp)[path]
    assert got == want, f"loader {sorted(want)} != pfldd {sorted(got)}"
    return want


def test_rpath_before_llp_runpath_after(tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    d1.mkdir(), d2.mkdir()
    lib(d1 / "libv.so"), lib(d2 / "libv.so")
    a = exe(tmp_path / "a", needs=[(d1, "libv.so")], flags=rpath(d1))
    b = exe(tmp_path / "b", needs=[(d1, "libv.so")], flags=runpath(d1))
    assert f"libv.so => {d1}/libv.so" in same(a, str(tmp_path), llp=str(d2))
    assert f"libv.so => {d2}/libv.so" in same(b, str(tmp_path), llp=str(d2))


def test_rpath_inherited_from_executable(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    lib(d / "libb.so")
    lib(d / "liba.so", needs=[(d, "libb.so")])
    lib(d / "libr.so", needs=[(d, "libb.so")], flags=runpath(tmp_path / "empty"))
    a = exe(tmp_path / "a", needs=[(d, "liba.so")], flags=rpath(d))
    r = exe(tmp_path / "r", needs=[(d, "libr.so")], flags=rpath(d))
    assert f"libb.so => {d}/libb.so" in same(a, str(tmp_path))
    # an object with DT_RUNPATH does not use the loader chain's DT_RPATH
    assert "libb.so => not found" in same(r, str(tmp_path))


def test_origin_through_symlink(tmp_path):
    """$ORIGIN of a library reached through a symlink is the symlink's folder
    (shared notes, fact 1)."""
    reals, site = tmp_path / "reals" / "r", tmp_path / "site" / "p1" / "pkg" / "sub"
    for d in (reals, site, tmp_path / "reals" / "lib", tmp_path / "site" / "p1" / "lib"):
        d.mkdir(parents=True, exist_ok=True)
    lib(tmp_path / "reals" / "lib" / "libb.so", soname="libb.so")
    lib(tmp_path / "site" / "p1" / "lib" / "libb.so", soname="libb.so",
        src="int v(void){return 2;}")
    lib(reals / "liba.so", needs=[(tmp_path / "reals" / "lib", "libb.so")],
        flags=runpath("$ORIGIN/../../lib"))
    os.symlink(reals / "liba.so", site / "liba.so")
    a = exe(tmp_path / "a", needs=[(site, "liba.so")], flags=rpath(site))
    assert f"libb.so => {site}/../../lib/libb.so" in same(a, str(tmp_path))


def test_same_soname_already_loaded(tmp_path):
    """Two libraries whose DT_NEEDED name one SONAME: the second need is
    matched by name, whatever its own search path says (fact 2)."""
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        lib(tmp_path / d / "libv.so.1", soname="libv.so.1")
    lib(tmp_path / "libx.so", needs=[(tmp_path / "d1", "libv.so.1")], flags=rpath("$ORIGIN/d1"))
    lib(tmp_path / "liby.so", needs=[(tmp_path / "d2", "libv.so.1")], flags=rpath("$ORIGIN/d2"))
    a = exe(tmp_path / "a", needs=[(tmp_path, "libx.so"), (tmp_path, "liby.so")],
            flags=rpath(tmp_path))
    got = same(a, str(tmp_path))
    assert f"libv.so.1 => {tmp_path}/d1/libv.so.1" in got
    assert not any("d2" in line for line in got)


def test_dlopen_context_matches_process(tmp_path):
    """dlopen of a library after the program's closure, compared with the
    objects dl_iterate_phdr reports in a real process."""
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        lib(tmp_path / d / "libv.so.1", soname="libv.so.1")
    lib(tmp_path / "libx.so", needs=[(tmp_path / "d1", "libv.so.1")], flags=rpath("$ORIGIN/d1"))
    lib(tmp_path / "liby.so", needs=[(tmp_path / "d2", "libv.so.1")], flags=rpath("$ORIGIN/d2"))
    lib(tmp_path / "d2" / "libonly.so")
    lib(tmp_path / "libz.so", needs=[(tmp_path / "d2", "libonly.so")])
    src = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
static int cb(struct dl_phdr_info *i, size_t s, void *d) { (void)s; (void)d;
    if (i->dlpi_name[0]) printf("%s\n", i->dlpi_name); return 0; }
int main(int c, char **v) { for (int k = 1; k < c; k++) if (!dlopen(v[k], RTLD_NOW))
    printf("ERR %s\n", dlerror()); dl_iterate_phdr(cb, 0); return 0; }
"""
    # the executable's DT_RPATH applies to what its dlopen'd libraries need
    a = exe(tmp_path / "a", needs=[(tmp_path, "libx.so")], src=src,
            flags=rpath(f"{tmp_path}:{tmp_path}/d2") + ["-ldl"])
    for target in ("liby.so", "libz.so"):
        p = subprocess.run([a, str(tmp_path / target)], capture_output=True, text=True,
                           env=clean_env(), check=True, cwd=str(tmp_path))
        real = {l for l in p.stdout.splitlines()
                if "linux-vdso" not in l and "ld-linux" not in l}
        assert not any(l.startswith("ERR") for l in real), real
        q = subprocess.run([PFLDD, "--dlopen-from", a, str(tmp_path / target)],
                           capture_output=True, text=True, env=clean_env(), cwd=str(tmp_path))
        ours = set()
        for line in normalize(q.stdout.splitlines()):
            ours.add(line.split(" => ")[-1])
        ours.add(str(tmp_path / target))
        assert ours == real, (target, ours, real)


def test_nodeflib(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    a = exe(tmp_path / "a", needs=[], flags=["-lz", "-Wl,-z,nodefaultlib"])
    assert "libz.so.1 => not found" in same(a, str(tmp_path))
    shutil.copy(os.path.realpath("/usr/lib/x86_64-linux-gnu/libz.so.1"), d / "libz.so.1")
    assert f"libz.so.1 => {d}/libz.so.1" in same(a, str(tmp_path), llp=str(d))


def test_ld_library_path_order(tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    d1.mkdir(), d2.mkdir()
    lib(d1 / "libv.so"), lib(d2 / "libv.so")
    a = exe(tmp_path / "a", needs=[(d1, "libv.so")])
    assert f"libv.so => {d2}/libv.so" in same(a, str(tmp_path), llp=f"{d2}:{d1}")
    assert f"libv.so => {d1}/libv.so" in same(a, str(tmp_path), llp=f"/nonexistent;{d1}:{d2}")
    # an empty element is the current folder: the name alone (printed
    # without "=>" since the name is the path)
    assert "libv.so" in same(a, str(d2), llp=f":{d1}")


def test_dst_lib_platform_and_hwcaps(tmp_path):
    d = tmp_path / "lib" / "x86_64-linux-gnu"
    d.mkdir(parents=True)
    lib(d / "libv.so")
    p = tmp_path / "x86_64"
    p.mkdir()
    lib(p / "libw.so")
    h = tmp_path / "h"
    (h / "glibc-hwcaps" / "x86-64-v2").mkdir(parents=True)
    lib(h / "libu.so"), lib(h / "glibc-hwcaps" / "x86-64-v2" / "libu.so")
    a = exe(tmp_path / "a", needs=[(d, "libv.so"), (p, "libw.so"), (h, "libu.so")],
            flags=rpath("$ORIGIN/$LIB:${ORIGIN}/$PLATFORM:$ORIGIN/h"))
    got = same(a, str(tmp_path))
    assert any(line.startswith("libu.so =>") for line in got)


def test_corrupt_candidate_stops_the_load(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    lib(d / "libv.so")
    a = exe(tmp_path / "a", needs=[(d, "libv.so")], flags=rpath(tmp_path / "bad") + rpath(d))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "libv.so").write_text("/* GNU ld script */\n")
    assert same(a, str(tmp_path)) == ("error",)


def test_wrong_class_and_machine_skipped(tmp_path):
    good, wc, wm = tmp_path / "good", tmp_path / "wc", tmp_path / "wm"
    for d in (good, wc, wm):
        d.mkdir()
    lib(good / "libv.so")
    # the same library with ELFCLASS32 / EM_AARCH64 in its header: the loader
    # skips such candidates and keeps searching
    for d, off, byte in ((wc, 4, 1), (wm, 18, 183)):
        data = bytearray((good / "libv.so").read_bytes())
        data[off] = byte
        (d / "libv.so").write_bytes(bytes(data))
    a = exe(tmp_path / "a", needs=[(good, "libv.so")], flags=rpath("$ORIGIN/wc:$ORIGIN/wm:$ORIGIN/good"))
    assert f"libv.so => {tmp_path}/good/libv.so" in same(a, str(tmp_path))


def test_relative_and_empty_rpath_elements(tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "sub").mkdir()
    lib(tmp_path / "good" / "libv.so")
    a = exe(tmp_path / "a", needs=[(tmp_path / "good", "libv.so")], flags=rpath("::good"))
    assert "libv.so => good/libv.so" in same(a, str(tmp_path))
    same(a, str(tmp_path / "sub"))
    shutil.copy(tmp_path / "good" / "libv.so", tmp_path / "sub" / "libv.so")
    assert "libv.so" in same(a, str(tmp_path / "sub"))


@pytest.mark.skipif(shutil.which("patchelf") is None, reason="needs patchelf")
def test_needed_paths_dst_and_same_file(tmp_path):
    """DT_NEEDED strings that are paths: $ORIGIN expanded before matching;
    the same file reached by another path is the object already loaded
    (matched by device and inode), except the loader itself, which glibc
    2.36 maps a second time."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "sub").mkdir()
    lib(tmp_path / "sub" / "libv.so")
    la, lb = lib(tmp_path / "liba.so"), lib(tmp_path / "libb.so")
    subprocess.run(["patchelf", "--add-needed", "$ORIGIN/sub/libv.so", "--add-needed",
                    "/usr/lib/x86_64-linux-gnu/libz.so.1", la], check=True)
    subprocess.run(["patchelf", "--add-needed", "libz.so.1", "--add-needed",
                    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", lb], check=True)
    a = exe(tmp_path / "bin" / "a")
    # one edit per patchelf run: 0.14 mixes up --add-needed with --set-rpath
    subprocess.run(["patchelf", "--add-needed", "liba.so", "--add-needed", "libb.so", a],
                   check=True)
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/..", "--force-rpath", a], check=True)
    got = same(a, str(tmp_path))
    assert f"{tmp_path}/bin/../sub/libv.so" in got
    assert "/usr/lib/x86_64-linux-gnu/libz.so.1" in got


def test_program_through_symlink(tmp_path):
    """$ORIGIN of a program: the path as given when started as `ld.so PROG`
    (what ld.so --list does), the realpath when exec'd (pfldd --exec),
    checked against the objects of a real process."""
    (tmp_path / "real" / "bin").mkdir(parents=True)
    (tmp_path / "real" / "lib").mkdir()
    (tmp_path / "link").mkdir()
    lib(tmp_path / "real" / "lib" / "libv.so")
    src = r"""
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
static int cb(struct dl_phdr_info *i, size_t s, void *d) { (void)s; (void)d;
    if (i->dlpi_name[0]) printf("%s\n", i->dlpi_name); return 0; }
int main(void) { dl_iterate_phdr(cb, 0); return 0; }
"""
    a = exe(tmp_path / "real" / "bin" / "a", needs=[(tmp_path / "real" / "lib", "libv.so")],
            src=src, flags=runpath("$ORIGIN/../lib"))
    link = tmp_path / "link" / "a"
    os.symlink(a, link)
    assert "libv.so => not found" in same(str(link), str(tmp_path))
    p = subprocess.run([str(link)], capture_output=True, text=True, env=clean_env(), check=True)
    real = {l for l in p.stdout.splitlines() if "linux-vdso" not in l and "ld-linux" not in l}
    q = subprocess.run([PFLDD, "--exec", str(link)], capture_output=True, text=True,
                       env=clean_env())
    ours = {line.split(" => ")[-1] for line in normalize(q.stdout.splitlines())}
    assert ours == real


def supported_hwcaps():
    """The glibc-hwcaps subfolders this loader searches, best first."""
    out = subprocess.run([RTLD, "--help"], capture_output=True, text=True).stdout
    return re.findall(r"^\s+(x86-64-v\d) \(supported, searched\)", out, re.M)


def test_ld_so_cache_parse_matches_ldconfig():
    if shutil.which("ldconfig") is None:
        pytest.skip("needs ldconfig")
    want = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    got = subprocess.run([PFLDD, "--dump-cache"], capture_output=True, text=True).stdout
    pairs = lambda text: sorted(re.sub(r" \(.*\) => ", " => ", l.strip())
                                for l in text.splitlines() if " => " in l)
    assert pairs(got) == pairs(want) and pairs(got)


def test_ld_so_cache_hwcaps_entries(tmp_path):
    """A cache written by ldconfig for a folder with glibc-hwcaps copies: the
    best subfolder the CPU supports wins over the plain entry (the real
    loader only reads /etc/ld.so.cache, so the expectation comes from the
    rule and ld.so --help's list of supported subfolders)."""
    if shutil.which("ldconfig") is None:
        pytest.skip("needs ldconfig")
    d = tmp_path / "d"
    for sub in ("", "glibc-hwcaps/x86-64-v2", "glibc-hwcaps/x86-64-v3"):
        (d / sub).mkdir(parents=True, exist_ok=True)
        lib(d / sub / "libhc.so.1", soname="libhc.so.1")
    (tmp_path / "conf").write_text(f"{d}\n")
    cache = tmp_path / "cache"
    subprocess.run(["ldconfig", "-X", "-C", str(cache), "-f", str(tmp_path / "conf")], check=True)
    a = exe(tmp_path / "a", needs=[(d, "libhc.so.1")])
    q = subprocess.run([PFLDD, "--ld-so-cache", str(cache), a], capture_output=True, text=True,
                       env=clean_env(), cwd=str(tmp_path))
    best = [h for h in supported_hwcaps() if h in ("x86-64-v2", "x86-64-v3")]
    want = f"{d}/glibc-hwcaps/{best[0]}/libhc.so.1" if best else f"{d}/libhc.so.1"
    assert f"libhc.so.1 => {want}" in normalize(q.stdout.splitlines())


def cache_only_library():
    """A library that only /etc/ld.so.cache finds (its folder comes from
    /etc/ld.so.conf.d, not the default folders), or None."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for m in re.finditer(r"^\s+(\S+) \(libc6,x86-64\) => (\S+)$", out, re.M):
        name, path = m.groups()
        if os.path.dirname(path) not in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                         "/lib", "/usr/lib") and os.path.exists(path):
            return name, path
    return None


def test_system_cache_lookup(tmp_path):
    """The cache against the real loader: a name only the cache resolves; the
    same with DF_1_NODEFLIB (cache entries under the default folders are
    refused, others kept)."""
    if shutil.which("ldconfig") is None or cache_only_library() is None:
        pytest.skip("no library that only the cache finds")
    name, path = cache_only_library()
    src = tmp_path / "dep"
    src.mkdir()
    lib(src / name)
    a = exe(tmp_path / "a", needs=[(src, name)])
    assert f"{name} => {path}" in same(a, str(tmp_path))
    n = exe(tmp_path / "n", needs=[(src, name)], flags=["-Wl,-z,nodefaultlib"])
    same(n, str(tmp_path))
