#!/usr/bin/env python3
"""The corpus (tests/corpus/apps/) on the NEWEST releases, outside CI, so that drift is seen before
users see it: a fresh venv with tests/corpus/newest.txt unpinned, then every app through the same
procedure as tests/integration/test_corpus.py (analyze, export, run in an empty root and in a
Debian bullseye root, stdout equal to the source run). Prints the table app x root, dist size,
analysis time, and the packages whose newest release differs from the pin.

    PYFARM_BUILD=build python3 bench/corpus_newest.py [--apps a,b] [--pinned] [--torch]
                                                      [--debian] [--work DIR] [--json FILE] [--venv DIR]

--pinned runs the pinned venv instead (the CI corpus, as a table). --torch runs the torch apps
(tests/corpus/torch/) in a venv of the newest torch from the ordinary package index (large: its
CUDA wheels are several GB; check the disk first). --debian runs tests/corpus/debian/ with Debian's
/usr/bin/python3 and its python3-* packages. Exit status 1 when any app fails."""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "corpus"))
import runner  # noqa: E402

lib = runner.lib
TORCH_APPS = runner.CORPUS / "torch"


def fresh_venv(path, requirements):
    subprocess.run([lib.base_python(), "-m", "venv", str(path)], check=True)
    subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade",
                    "--disable-pip-version-check", *requirements], check=True)
    return path


def versions(venv):
    out = subprocess.run([str(Path(venv) / "bin" / "python"), "-m", "pip", "freeze",
                          "--disable-pip-version-check"], capture_output=True, text=True, check=True).stdout
    return dict(line.split("==", 1) for line in out.splitlines() if "==" in line)


def drift(venv):
    pins = dict(line.split("==", 1) for line in runner.pinned_requirements() if "==" in line)
    now = versions(venv)
    return sorted((name, pins.get(name, "-"), ver) for name, ver in now.items() if pins.get(name) != ver)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", help="comma-separated app names (default: all)")
    ap.add_argument("--pinned", action="store_true", help="the pinned venv of CI instead of the newest")
    ap.add_argument("--torch", action="store_true", help="the torch apps, newest torch")
    ap.add_argument("--debian", action="store_true", help="the Debian apps with /usr/bin/python3")
    ap.add_argument("--work", help="work folder (default: a temporary one)")
    ap.add_argument("--json", help="write the rows here as JSON lines")
    ap.add_argument("--keep", action="store_true", help="keep catalogs and dists")
    ap.add_argument("--venv", help="reuse this venv (made by an earlier run) instead of a fresh one")
    args = ap.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="pf-corpus-"))
    work.mkdir(parents=True, exist_ok=True)
    apps_dir = TORCH_APPS if args.torch else runner.DEBIAN_APPS if args.debian else runner.APPS
    python = None
    if args.debian:
        venv, python = None, runner.DEBIAN_PYTHON
    elif args.venv:
        venv = Path(args.venv)
    elif args.pinned:
        venv = lib.make_venv("corpus", runner.pinned_requirements())
    elif args.torch:
        venv = fresh_venv(work / "venv-torch", ["torch", "numpy"])
    else:
        venv = fresh_venv(work / "venv-newest", runner.newest_requirements())
    names = args.apps.split(",") if args.apps else runner.app_names(apps_dir)
    root = lib.debootstrap_root("bullseye")
    roots = [("empty", None)] + ([("bullseye", root)] if root else [])
    if root is None:
        print("note: no bullseye root (debootstrap failed); empty root only", file=sys.stderr)

    rows, t0 = [], time.monotonic()
    for name in names:
        interpreter = python or Path(venv) / "bin" / "python"
        row = runner.run_app(name, interpreter, work / "apps", roots, keep=args.keep, apps=apps_dir)
        rows.append(row)
        state = "ok" if runner.passed(row) else "FAIL"
        print(f"{name}: {state} ({row['analysis_s']} s)", file=sys.stderr, flush=True)
        if state == "FAIL":
            print(runner.describe(row), file=sys.stderr)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")

    labels = [label for label, _ in roots]
    print(runner.table(rows, labels))
    passed = sum(1 for r in rows if runner.passed(r))
    print(f"\n{passed}/{len(rows)} apps pass; {time.monotonic() - t0:.0f} s in all")
    if args.torch:
        now = versions(venv)
        print("\n" + ", ".join(f"{k} {now[k]}" for k in ("torch", "numpy") if k in now))
    elif not args.pinned and not args.debian:
        changed = drift(venv)
        print("\nnewest releases that differ from tests/corpus/requirements.txt:" if changed
              else "\nthe newest releases equal the pins")
        for name, pin, ver in changed:
            print(f"  {name}: pinned {pin}, newest {ver}")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
