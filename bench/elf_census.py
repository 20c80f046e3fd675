#!/usr/bin/env python3
"""elf_census.py: the ELF patcher against every dynamic ELF of some folders.

For each dynamic ELF file (64-bit little-endian, one per inode, symlinks
skipped) the patcher (tests/unit/elfpatch_cli.c, the library's public call)
writes a copy with three edits, the ones pyfarm makes:
  - a new DT_RPATH: "$ORIGIN" then the source's own search path (made
    absolute, since the copy lives elsewhere);
  - one DT_NEEDED renamed (a name that resolves, not glibc's own when there
    is a choice), with a symlink of the new name beside the copy;
  - a new DT_SONAME for a library that has one.
Then the copy must be no worse than its source:
  - it loads: a library by dlopen in a fresh Python process, an executable
    started by the kernel with LD_TRACE_LOADED_OBJECTS=1 (the kernel maps
    it, gives AT_PHDR, ld.so sets it up and lists its dependencies, and none
    of its code runs), plus `--version` (or a tiny script) for a few known
    programs;
  - eu-elflint --gnu-ld reports no message the source does not have
    (segment numbers masked: the patch adds a segment);
  - its dynamic section says what was asked, read back by a reader
    independent of the patcher (below);
  - every PT_NOTE of the source is still there, unchanged;
  - a moved program header table sits at the first PT_LOAD's load address
    plus e_phoff (the AT_PHDR rule of kernels before 5.18) for files that
    may run as programs.

    python3 bench/elf_census.py [--jobs N] [--json OUT] [DIR ...]

With no DIR: the system library folders, /usr/bin, Debian's Python
extension folders, pyenv's Python, and the corpus's venv (the pins of
tests/corpus/requirements.txt, made and cached as the tests make theirs).
PYFARM_BUILD names the build folder (default build/). The integration test
tests/integration/test_elf_census.py runs a sample through the same code.
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "corpus"))
import pyfarm_testlib as lib  # noqa: E402
import runner  # noqa: E402  (the corpus: its pins are the census's wheels)

LOADER = "/lib64/ld-linux-x86-64.so.2"
SYSTEM_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/lib/python3/dist-packages",
               "/usr/lib/python3.11/lib-dynload"]
PREFIX = "pfc-"  # renamed DT_NEEDED and new SONAME
GLIBC = {"libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6", "libpthread.so.0", "libdl.so.2",
         "librt.so.1"}
# programs that print and exit on these arguments, whatever the environment
SAFE_RUNS = {"python3.11": ["-c", "import sys, json; print(json.dumps(sys.version_info[:2]))"],
             "ls": ["--version"], "cat": ["--version"], "grep": ["--version"], "sed": ["--version"],
             "tar": ["--version"], "gzip": ["--version"], "xz": ["--version"], "zstd": ["--version"],
             "bash": ["--version"], "readelf": ["--version"], "objdump": ["--version"],
             "sqlite3": ["-version"], "perl": ["-e", "print 42"], "git": ["--version"],
             "curl": ["--version"], "openssl": ["version"], "eu-elflint": ["--version"],
             "bwrap": ["--version"], "cmake": ["--version"], "ninja": ["--version"],
             "libc.so.6": []}  # glibc prints its banner

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR = 1, 2, 3, 4, 6
DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_FLAGS_1 = 1, 5, 14, 15, 29, 0x6ffffffb
DF_1_PIE = 0x08000000
Phdr = collections.namedtuple("Phdr", "type flags offset vaddr paddr filesz memsz align")


# ---- an ELF reader independent of the patcher (the oracle) ----

class Elf:
    """Program headers and dynamic entries of a 64-bit little-endian ELF."""

    def __init__(self, path):
        with open(path, "rb") as f:
            d = f.read()
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise ValueError("not a 64-bit little-endian ELF")
        (self.type, self.machine, _, self.entry, self.phoff, self.shoff, _, _, phentsize, phnum,
         _, _, _) = struct.unpack_from("<HHIQQQIHHHHHH", d, 16)
        if phentsize != 56 or self.phoff + 56 * phnum > len(d):
            raise ValueError("bad program headers")
        self.size = len(d)
        self.ph = [Phdr(*struct.unpack_from("<IIQQQQQQ", d, self.phoff + 56 * i))
                   for i in range(phnum)]
        interp = [p for p in self.ph if p.type == PT_INTERP]
        self.interp = (d[interp[0].offset:interp[0].offset + interp[0].filesz].rstrip(b"\0")
                       .decode() if interp else None)
        self.notes = sorted((p.offset, p.filesz, d[p.offset:p.offset + p.filesz])
                            for p in self.ph if p.type == PT_NOTE)
        self.dyn = []
        dyn = [p for p in self.ph if p.type == PT_DYNAMIC]
        if dyn:
            off, size = dyn[0].offset, dyn[0].filesz
            for i in range(size // 16):
                tag, val = struct.unpack_from("<qQ", d, off + 16 * i)
                if tag == 0:
                    break
                self.dyn.append((tag, val))
        strtab = self.off_of(self.get(DT_STRTAB))
        self._d, self._str = d, strtab

    def get(self, tag):
        return next((v for t, v in self.dyn if t == tag), None)

    def off_of(self, va):
        if va is None:
            return None
        for p in self.ph:
            if p.type == PT_LOAD and p.vaddr <= va < p.vaddr + p.filesz:
                return p.offset + va - p.vaddr
        return None

    def string(self, off):
        start = self._str + off
        return self._d[start:self._d.index(b"\0", start)].decode("utf-8", "replace")

    def strings(self, tag):
        return [self.string(v) for t, v in self.dyn if t == tag]

    @property
    def has(self):
        return {p.type for p in self.ph}

    @property
    def is_executable(self):
        flags = self.get(DT_FLAGS_1) or 0
        return self.type == 2 or (PT_INTERP in self.has and bool(flags & DF_1_PIE))

    @property
    def may_run(self):
        return self.type == 2 or PT_INTERP in self.has or (self.entry and not self.strings(DT_NEEDED))

    def phdr_table_va(self):
        """The address of the table, through the PT_LOAD that maps e_phoff."""
        for p in self.ph:
            if p.type == PT_LOAD and p.offset <= self.phoff < p.offset + p.filesz:
                return p.vaddr + self.phoff - p.offset
        return None


def segment_types(path):
    """The program header types of a 64-bit little-endian ELF, reading only
    its headers; None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            if phentsize != 56:
                return None
            f.seek(phoff)
            table = f.read(56 * phnum)
            if len(table) != 56 * phnum:
                return None
            return {struct.unpack_from("<I", table, 56 * i)[0] for i in range(phnum)}
    except OSError:
        return None


def dynamic_elfs(dirs):
    """Every dynamic 64-bit ELF under dirs, one path per inode, sorted."""
    seen, out = set(), []
    for top in dirs:
        for root, dnames, fnames in os.walk(top):
            dnames.sort()
            for f in sorted(fnames):
                p = os.path.join(root, f)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not os.path.isfile(p) or os.path.islink(p) or (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                types = segment_types(p)
                if types and PT_DYNAMIC in types:
                    out.append(p)
    return out


# ---- checks ----

def run(argv, env=None, timeout=60, cwd=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd,
                           errors="replace")
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return -999, "", "timeout"


def elflint(path):
    """eu-elflint's messages, file name dropped, segment numbers masked."""
    _, out, err = run(["eu-elflint", "--gnu-ld", path], timeout=300)
    msgs = []
    for line in (out + err).splitlines():
        line = line.replace(path, "FILE")
        if line.startswith("FILE: "):
            line = line[len("FILE: "):]
        line = re.sub(r"(segment|program header entry|entry) \[?\d+\]?", r"\1 #", line)
        msgs.append(line)
    return collections.Counter(msgs)


def resolved(listing):
    """name -> path from an `ld.so --list` or LD_TRACE_LOADED_OBJECTS listing."""
    out = {}
    for line in listing.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            out[m.group(1)] = None if m.group(2) == "not" else os.path.realpath(m.group(2))
    return out


def listing(path, executable):
    if executable == "kernel":  # the kernel loads it: AT_PHDR, PT_PHDR and the main map are exercised
        return run([path], env={"LD_TRACE_LOADED_OBJECTS": "1", "PATH": "/usr/bin:/bin"})
    return run([LOADER, "--list", path])


DLOPEN = ("import ctypes, sys\n"
          "try:\n"
          "    ctypes.CDLL(sys.argv[1])\n"
          "except OSError as e:\n"
          "    print('ERR', str(e).replace(sys.argv[1], 'FILE')); sys.exit(3)\n"
          "print('OK')\n")


def loads(path, python):
    rc, out, err = run([python, "-c", DLOPEN, path], timeout=60)
    return "ok" if rc == 0 and out.strip() == "OK" else (out + err).strip()[-300:] or f"rc {rc}"


def safe_run(path, name):
    args = SAFE_RUNS.get(name)
    if args is None:
        return None
    rc, out, err = run([path, *args], env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, timeout=30)
    return rc, out.replace(path, name).strip()[:200]  # some print their argv[0]


def expand_origin(paths, origin):
    out = []
    for p in paths.split(":"):
        if p:
            out.append(p.replace("$ORIGIN", origin).replace("${ORIGIN}", origin))
    return out


def choose_rename(needed, deps):
    """The DT_NEEDED to rename: one that resolves, not glibc's if possible."""
    ok = [n for n in needed if deps.get(n)]
    for n in ok:
        if n not in GLIBC:
            return n
    return ok[0] if ok else None


def census_one(path, cli, python, workdir):
    """Patch one file and check the copy. Returns a result dict; 'fail' is
    None or the reason (a short class, then details)."""
    res = {"path": path, "fail": None}
    try:
        src = Elf(path)
    except (OSError, ValueError, struct.error) as e:
        res["fail"] = f"unreadable: {e}"
        return res
    exe = src.is_executable
    # the kernel starts it only when glibc's loader is its interpreter: with
    # LD_TRACE_LOADED_OBJECTS, no code of the program runs
    how = "kernel" if exe and src.interp == LOADER else False
    res.update(kind="exe" if exe else "lib", pie=exe and src.type == 3, note=PT_NOTE in src.has,
               phdr=PT_PHDR in src.has, size=src.size)
    needed = src.strings(DT_NEEDED)
    rc, out, _ = listing(path, how)
    deps = resolved(out) if rc == 0 else {}
    out_dir = Path(workdir)
    target = out_dir / os.path.basename(path)
    origin = os.path.dirname(path)
    old = (src.strings(DT_RUNPATH) or src.strings(DT_RPATH) or [""])[0]
    # as pyfarm does: a search path for what needs libraries; the dynamic
    # loader (which loads nothing itself) keeps its name and gets no edit
    loader = src.type == 3 and PT_INTERP not in src.has and src.entry and not needed
    res["loader"] = bool(loader)
    rpath = ":".join(["$ORIGIN", *expand_origin(old, origin)]) if needed or old else None
    args = [cli, path, target, "--stats"] + (["--rpath", rpath] if rpath else [])
    ren = choose_rename(needed, deps)
    if ren:
        args += ["--rename", f"{ren}={PREFIX}{ren}"]
        os.symlink(deps[ren], out_dir / f"{PREFIX}{ren}")
    soname = (src.strings(DT_SONAME) or [None])[0]
    if not (soname and not exe and not loader and soname not in lib.GLIBC):
        soname = None  # pyfarm renames no program and nothing of glibc
    if soname:
        args += ["--soname", PREFIX + soname]
    rc, out, err = run(args)
    if rc != 0:
        res["fail"] = "patch refused: " + re.sub(r"^elfpatch_cli: [^:]*: ", "", err.strip())
        return res
    if out.startswith("unchanged"):
        res["unchanged"] = True  # nothing asked (the loader): the copy is the source
        return res
    m = re.search(r"patch (\d+) bytes", out)
    res["patch_bytes"] = int(m.group(1)) if m else 0
    try:
        new = Elf(str(target))
    except (OSError, ValueError, struct.error) as e:
        res["fail"] = f"output unreadable: {e}"
        return res
    res["moved_table"] = new.phoff != src.phoff
    res["moved_dynamic"] = ([p.offset for p in new.ph if p.type == PT_DYNAMIC]
                            != [p.offset for p in src.ph if p.type == PT_DYNAMIC])
    res["out_size"] = new.size
    problem = (check_dynamic(src, new, rpath, ren, soname)
               or check_layout(src, new)
               or check_elflint(path, str(target), res)
               or check_loads(path, str(target), how, python, ren, deps, res))
    res["fail"] = problem
    return res


def check_dynamic(src, new, rpath, ren, soname):
    want_needed = []
    for n in src.strings(DT_NEEDED):
        n = PREFIX + n if n == ren else n
        if n not in want_needed:
            want_needed.append(n)
    if new.strings(DT_NEEDED) != want_needed:
        return f"dynamic wrong: DT_NEEDED {new.strings(DT_NEEDED)}"
    if rpath and (new.strings(DT_RPATH) != [rpath] or new.strings(DT_RUNPATH)):
        return f"dynamic wrong: rpath {new.strings(DT_RPATH)} runpath {new.strings(DT_RUNPATH)}"
    if soname and new.strings(DT_SONAME) != [PREFIX + soname]:
        return f"dynamic wrong: SONAME {new.strings(DT_SONAME)}"
    return None


def check_layout(src, new):
    if new.notes != src.notes:
        return "notes lost or changed"
    loads = [p for p in new.ph if p.type == PT_LOAD]
    if [p.vaddr for p in loads] != sorted(p.vaddr for p in loads):
        return "PT_LOADs out of address order"
    table = new.phdr_table_va()
    if table is None:
        return "layout: program header table not mapped by any PT_LOAD"
    phdr = [p for p in new.ph if p.type == PT_PHDR]
    if phdr and (phdr[0].vaddr != table or phdr[0].offset != new.phoff):
        return "layout: PT_PHDR does not describe the table"
    if src.may_run and new.phoff != src.phoff:
        first = loads[0]
        if first.vaddr - first.offset + new.phoff != table:
            return "layout: moved table breaks the AT_PHDR rule of kernels < 5.18"
    return None


def check_elflint(src_path, out_path, res):
    before, after = elflint(src_path), elflint(out_path)
    worse = after - before
    res["elflint_better"] = sum((before - after).values())
    if worse:
        return "elflint worse: " + "; ".join(sorted(worse))[:400]
    return None


def check_runs(src_path, out_path, res):
    """A known program (or libc, which runs too) prints the same when run."""
    ran = safe_run(src_path, os.path.basename(src_path))
    if ran is not None and ran[0] == 0:
        got = safe_run(out_path, os.path.basename(src_path))
        res["ran"] = True
        if got != ran:
            return f"load worse: run gave {got} instead of {ran}"
    return None


def check_loads(src_path, out_path, how, python, ren, deps, res):
    if how:
        rc_s, out_s, _ = listing(src_path, how)
        rc_p, out_p, err_p = listing(out_path, how)
        res["source_loads"] = rc_s == 0
        if rc_s == 0:
            if rc_p != 0:
                return f"load worse: trace failed: {err_p.strip()[-200:]}"
            a, b = resolved(out_s), resolved(out_p)
            if ren and ren in a:
                a[PREFIX + ren] = a.pop(ren)
            if a != b:
                diff = sorted(set(a.items()) ^ set(b.items()))[:4]
                return f"load worse: dependencies resolve differently: {diff}"
        return check_runs(src_path, out_path, res)
    s = loads(src_path, python)
    res["source_loads"] = s == "ok"
    if s == "ok":
        p = loads(out_path, python)
        if p != "ok":
            return f"load worse: {p}"
    return check_runs(src_path, out_path, res)


def _worker(job):
    path, cli, python, tmp = job
    work = tempfile.mkdtemp(dir=tmp)
    try:
        return census_one(path, cli, python, work)
    except Exception as e:  # a census reports every file, whatever happens
        return {"path": path, "fail": f"census error: {e!r}"}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_census(files, cli, python, jobs=None, tmp=None):
    tmp = tempfile.mkdtemp(prefix="pfcensus-", dir=tmp)
    try:
        with ProcessPoolExecutor(max_workers=jobs or os.cpu_count()) as ex:
            return list(ex.map(_worker, [(f, cli, python, tmp) for f in files], chunksize=4))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summary(results):
    """Counts for the report: totals, failures by reason class."""
    c = collections.Counter()
    reasons = collections.Counter()
    for r in results:
        c["files"] += 1
        c["no PT_NOTE"] += r.get("note") is False
        c["no PT_PHDR"] += r.get("phdr") is False
        c["executables"] += r.get("kind") == "exe"
        c["PIE executables"] += bool(r.get("pie"))
        c["table moved"] += bool(r.get("moved_table"))
        c["table grown in place"] += r.get("moved_table") is False
        c["dynamic moved"] += bool(r.get("moved_dynamic"))
        c["bytes added (output)"] += r.get("out_size", 0) - r.get("size", 0) if "out_size" in r else 0
        c["source does not load"] += r.get("source_loads") is False
        c["programs run"] += bool(r.get("ran"))
        c["not edited (the loader)"] += bool(r.get("unchanged"))
        c["elflint better"] += bool(r.get("elflint_better"))
        c["notes kept"] += r.get("note") is True and r["fail"] is None
        if r["fail"] is None:
            c["ok"] += 1
        else:
            reasons[r["fail"].split(":")[0]] += 1
    sizes = sorted(r["patch_bytes"] for r in results if r.get("patch_bytes"))
    if sizes:
        c["patch bytes median"] = sizes[len(sizes) // 2]
        c["patch bytes max"] = sizes[-1]
    return c, reasons


def wheel_venv():
    """The corpus's venv (tests/corpus/requirements.txt, the one file of pins)."""
    return lib.make_venv("corpus", runner.pinned_requirements())


def default_dirs():
    dirs = [d for d in SYSTEM_DIRS if os.path.isdir(d)]
    pyenv = Path(lib.PYENV_PYTHON).parents[1]
    if pyenv.is_dir():
        dirs.append(str(pyenv))
    dirs.append(str(wheel_venv()))
    return dirs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--json", help="write every file's result here")
    ap.add_argument("--sample", type=int, default=0, help="a seeded sample of N files")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cli", default=str(lib.BUILD / "tests" / "elfpatch_cli"),
                    help="the patcher's test driver (another build's, to compare)")
    a = ap.parse_args()
    cli = a.cli
    dirs = a.dirs or default_dirs()
    t = time.time()
    files = dynamic_elfs(dirs)
    if a.sample:
        files = sorted(random.Random(a.seed).sample(files, min(a.sample, len(files))))
    results = run_census(files, cli, lib.base_python(), a.jobs)
    counts, reasons = summary(results)
    for k, v in counts.items():
        print(f"{k:28} {v}")
    for k, v in reasons.most_common():
        print(f"FAILED {k:21} {v}")
    for r in results:
        if r["fail"]:
            print(f"  {r['path']}: {r['fail']}")
    print(f"{time.time() - t:.0f} s over {len(dirs)} folders")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 1 if reasons else 0


if __name__ == "__main__":
    sys.exit(main())
