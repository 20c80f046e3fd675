"""The corpus's one procedure, shared by tests/integration/test_corpus.py (pinned releases, in CI)
and bench/corpus_newest.py (newest releases, outside CI): copy an app into a folder of its own,
run it from source, analyze it (default: hermetic), export the dist, run the dist in an empty root
and in a Debian root, and compare each output with the source run. Returns a row of facts; the
callers decide what fails."""
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
APPS = CORPUS / "apps"
FAKEFILE_PKG = CORPUS / "pkgs" / "fakefile"
DEBIAN_APPS = CORPUS / "debian"  # run with Debian's /usr/bin/python3 and its python3-* packages
DEBIAN_PYTHON = "/usr/bin/python3"
sys.path.insert(0, str(CORPUS.parent / "integration"))
import pyfarm_testlib as lib  # noqa: E402

RUN_TIMEOUT = 300  # seconds for one run of an app (source or dist); a hang is a failure


def app_names(apps=APPS):
    return sorted(p.stem for p in Path(apps).glob("*.py"))


def fakefile_source():
    """The local package of the made-up __file__ trap, copied to a cache folder named by a hash of
    its sources: pip builds a local folder in place (build/, *.egg-info), and make_venv keys on
    the requirement lines, so the folder's name must change when its contents do."""
    h = hashlib.sha256()
    files = sorted(p for p in FAKEFILE_PKG.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for p in files:
        h.update(str(p.relative_to(FAKEFILE_PKG)).encode() + b"\0" + p.read_bytes())
    dest = lib.CACHE / f"src-fakefile-{h.hexdigest()[:12]}"
    if not dest.exists():
        tmp = Path(f"{dest}.{os.getpid()}")
        shutil.copytree(FAKEFILE_PKG, tmp, ignore=shutil.ignore_patterns("__pycache__"))
        os.replace(tmp, dest)
    return str(dest)


def pinned_requirements():
    """The exact pins (comments dropped) and the local package of the made-up __file__ trap."""
    lines = [line.strip() for line in (CORPUS / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")] + [fakefile_source()]


def newest_requirements():
    """The top-level packages unpinned: pip takes the newest releases that fit together."""
    lines = [line.strip() for line in (CORPUS / "newest.txt").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")] + [fakefile_source()]


def imported_tops(app):
    """The top-level modules an app's file imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(Path(app).read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(names)


def missing_modules(python, app):
    """The modules an app imports that this interpreter cannot find (Debian's python3-* packages
    are installed by apt, not by the tests): [] when the app can run."""
    code = ("import importlib.util, sys\n"
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))")
    names = imported_tops(app)
    r = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else names


def _env(home):
    """The same environment for the source run and the analysis: a fresh HOME (caches such as
    matplotlib's font list are made there, not in the tester's), no user site."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MPL"))}
    env.update(HOME=str(home), LANG="C.UTF-8", PYTHONNOUSERSITE="1")
    return env


def _bwrap_run(binds, argv):
    try:
        return lib._bwrap(binds, argv, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, -9, "", f"timed out after {RUN_TIMEOUT} s")


def _size(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.lstat(p).st_size
    return total


def _tail(text, n=12):
    return "\n".join(text.strip().splitlines()[-n:])


def run_app(name, python, work, roots, keep=False, apps=APPS):
    """One app through the whole procedure. roots: [(label, root path)]. The row:
    source (stdout), analysis_s, analyze_rc, analyze_err, dist_bytes, runs {label: (rc, stdout,
    stderr tail)}, ok {label: bool}. The dist and catalog are deleted unless keep."""
    work = Path(work)
    appdir, home = work / name, work / f"{name}-home"
    appdir.mkdir(parents=True)
    home.mkdir()
    shutil.copy(Path(apps) / f"{name}.py", appdir / f"{name}.py")
    argv = [str(python), str(appdir / f"{name}.py")]
    row = {"app": name, "runs": {}, "ok": {}, "dist_bytes": None, "analysis_s": None}
    t0 = time.monotonic()
    src = subprocess.run(argv, capture_output=True, text=True, cwd=appdir, env=_env(home),
                         timeout=RUN_TIMEOUT)
    row["source_s"] = round(time.monotonic() - t0, 1)
    row["source"], row["source_rc"] = src.stdout, src.returncode
    if src.returncode != 0:
        row["analyze_rc"], row["analyze_err"] = None, "source run failed:\n" + _tail(src.stderr)
        return row
    cat, dist = work / f"{name}.db", work / f"{name}-dist"
    t0 = time.monotonic()
    r = lib.analyze(cat, argv, env=_env(home), cwd=appdir, check=False)
    row["analysis_s"] = round(time.monotonic() - t0, 1)
    row["analyze_rc"], row["analyze_err"] = r.returncode, _tail(r.stderr)
    row["traced_same"] = r.stdout == src.stdout  # the app's output under the tracer
    if r.returncode == 0:
        t0 = time.monotonic()
        e = subprocess.run([lib.tool("pfexport"), str(cat), str(dist)], capture_output=True, text=True,
                           timeout=1800)
        if e.returncode != 0:
            row["analyze_rc"], row["analyze_err"] = "export", _tail(e.stderr)
        else:
            row["export_s"] = round(time.monotonic() - t0, 1)
            row["dist_bytes"] = _size(dist)
            for label, root in roots:
                t0 = time.monotonic()
                binds = ["--ro-bind", str(dist), "/dist"]
                if root is not None:
                    binds = ["--ro-bind", str(root), "/"] + binds
                d = _bwrap_run(binds, ["/dist/run"])
                row["runs"][label] = (d.returncode, d.stdout, _tail(d.stderr))
                row["ok"][label] = d.returncode == 0 and d.stdout == src.stdout
                row[f"{label}_s"] = round(time.monotonic() - t0, 1)
    if not keep:
        shutil.rmtree(dist, ignore_errors=True)
        cat.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
    return row


def passed(row):
    """Analysis and export succeeded, the traced run printed what the source run did, and the dist
    did too in every root."""
    return (row["analyze_rc"] == 0 and row.get("traced_same", False) and bool(row["ok"])
            and all(row["ok"].values()))


def describe(row):
    """A failure's symptom in a few lines, for assertion messages and the findings file."""
    if row.get("source_rc"):
        return f"{row['app']}: {row['analyze_err']}"
    if row["analyze_rc"] != 0:
        return f"{row['app']}: pfanalyze/pfexport failed ({row['analyze_rc']}):\n{row['analyze_err']}"
    out = []
    if not row.get("traced_same", True):
        out.append(f"{row['app']}: the traced run's stdout differs from the source run's")
    for label, ok in row["ok"].items():
        if not ok:
            rc, stdout, err = row["runs"][label]
            diff = [line for line in stdout.splitlines() if line not in row["source"].splitlines()]
            out.append(f"{row['app']} in {label}: exit {rc}; stdout lines not in the source run: "
                       f"{diff[:5]}\nstderr tail:\n{err}")
    return "\n".join(out)


def fmt_size(n):
    return "-" if n is None else f"{n / 1e6:.0f} MB"


def table(rows, labels):
    """app | each root | dist size | analysis time, as a Markdown table."""
    head = "| app | " + " | ".join(labels) + " | dist size | analysis s |"
    lines = [head, "|" + "---|" * (len(labels) + 3)]
    for row in rows:
        if row["analyze_rc"] != 0:
            cells = ["analysis failed"] + ["-"] * (len(labels) - 1)
        else:
            cells = ["ok" if row["ok"].get(label) else f"FAIL ({row['runs'][label][0]})" for label in labels]
        lines.append(f"| {row['app']} | " + " | ".join(cells) +
                     f" | {fmt_size(row['dist_bytes'])} | {row['analysis_s'] or '-'} |")
    return "\n".join(lines)
