"""A sample of the ELF census (bench/elf_census.py, which runs all of it):
each file is patched as pyfarm patches (new DT_RPATH, a renamed DT_NEEDED, a
new SONAME for a library), then must load or start no worse than its source,
keep its eu-elflint verdict, keep every note, and say what was asked.

The sample: every file without a PT_NOTE (wheels rewritten by auditwheel, and
protobuf's lld-linked module with no PT_PHDR and no slack), Debian's non-PIE
python3.11 and pyenv's PIE python3.11 (started by the kernel and run), the
dynamic loader and libc (which run as programs too), 20 programs of /usr/bin,
cryptography's Rust module (its .dynamic has no spare slot), and a seeded
sample of the system libraries and of the wheels' files. About 290 files:
100 s with 2 workers on a loaded 2-core machine."""
import os
import random
import sys
import time

from pyfarm_testlib import BUILD, LIBDIR, PYENV_PYTHON, REPO, base_python

sys.path.insert(0, str(REPO / "bench"))
import elf_census as census  # noqa: E402

SEED = 20261125
SYSTEM_LIBS = 200
WHEEL_FILES = 40
PROGRAMS = 20


def sample():
    venv = str(census.wheel_venv())
    wheels = census.dynamic_elfs([venv])
    system = census.dynamic_elfs([LIBDIR])
    programs = census.dynamic_elfs(["/usr/bin"])
    no_note = [f for f in wheels + system + programs if census.PT_NOTE not in census.segment_types(f)]
    rng = random.Random(SEED)
    chosen = set(no_note)
    chosen |= {os.path.realpath(p) for p in ("/usr/bin/python3.11", PYENV_PYTHON, census.LOADER,
                                              os.path.join(LIBDIR, "libc.so.6")) if os.path.exists(p)}
    chosen |= set(rng.sample(programs, min(PROGRAMS, len(programs))))
    chosen |= set(rng.sample(system, min(SYSTEM_LIBS, len(system))))
    chosen |= set(rng.sample(wheels, min(WHEEL_FILES, len(wheels))))
    # lld sizes .dynamic exactly: a new DT_RPATH does not fit, .dynamic moves
    chosen |= {p for p in wheels if p.endswith("hazmat/bindings/_rust.abi3.so")}
    return sorted(chosen), no_note


def test_elf_census_sample():
    files, no_note = sample()
    t = time.time()
    results = census.run_census(files, str(BUILD / "tests" / "elfpatch_cli"), base_python(), jobs=2)
    counts, reasons = census.summary(results)
    print(f"\n{len(files)} files in {time.time() - t:.0f} s")
    for k, v in counts.items():
        print(f"  {k:28} {v}")
    failed = [f"{r['path']}: {r['fail']}" for r in results if r["fail"]]
    assert not failed, "\n".join(failed)
    # the sample holds what it claims: the files that had no slot to reuse...
    assert len(no_note) >= 25 and counts["no PT_NOTE"] == len(no_note)
    assert any(p.endswith("_upb/_message.abi3.so") for p in no_note)
    assert any("numpy.libs/libscipy_openblas" in p for p in no_note)
    # ...programs the kernel started (PIE and not), two of them really run...
    by_path = {r["path"]: r for r in results}
    debian, pyenv = os.path.realpath("/usr/bin/python3.11"), os.path.realpath(PYENV_PYTHON)
    if os.path.exists(debian):
        assert by_path[debian]["kind"] == "exe" and not by_path[debian]["pie"]
        assert by_path[debian].get("ran")
    if os.path.exists(pyenv):
        assert by_path[pyenv]["pie"] and by_path[pyenv].get("ran")
    libc = os.path.realpath(os.path.join(LIBDIR, "libc.so.6"))
    assert by_path[libc].get("ran")  # libc runs as a program too
    assert counts["PIE executables"] >= 10 and counts["programs run"] >= 3
    # ...both ways of making room for the new program header, and a .dynamic
    # that had to move
    assert counts["table moved"] and counts["table grown in place"] and counts["dynamic moved"]
    assert counts["notes kept"] == len(files) - len(no_note)
