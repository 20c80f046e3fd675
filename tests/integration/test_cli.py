"""The command line every tool shares (docs/user-guide.md, "Command line"):
--help and --version, one table of exit statuses, option values checked,
the output form chosen by its name, a bad catalog refused alike by every
tool, and run.sh started through a symlink in PATH."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from pyfarm_testlib import REPO, analyze, export, mounted, tool

DEB_PY = "/usr/bin/python3"
TOOLS = ["pfanalyze", "pfexport", "pfmount", "pfwhy", "pfldd"]
# include/pyfarm/cli.h
OK, FAIL, USAGE, APP, NOT_FOUND = 0, 1, 2, 3, 127


def run(*argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300,
                          **kw)


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


def project_version():
    m = re.search(r"version\s*:\s*'([^']+)'", (REPO / "meson.build").read_text())
    return m.group(1)


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory):
    """A small app analyzed in both glibc modes: {mode: catalog}."""
    d = tmp_path_factory.mktemp("cli")
    app = d / "app.py"
    app.write_text("import sys, json\nprint('hello', json.dumps(sys.argv[1:]))\n"
                   "sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)\n")
    data = d / "data.txt"
    data.write_text("data\n")
    out = {}
    for mode in ("host", "bundle"):
        cat = d / f"{mode}.db"
        analyze(cat, [DEB_PY, str(app)], "--glibc", mode, "--include-file",
                f"{data}=share/data.txt")
        out[mode] = cat
    out["data"] = data
    return out


@pytest.mark.parametrize("name", TOOLS)
def test_help_exits_0_on_stdout_and_version(name):
    r = run(tool(name), "--help")
    assert r.returncode == OK, r.stderr
    assert "usage:" in r.stdout.lower(), r.stdout
    r = run(tool(name), "--version")
    assert r.returncode == OK, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"{name} (pyfarm) {project_version()}"), r.stdout


@pytest.mark.parametrize("name", ["pfanalyze", "pfexport", "pfwhy", "pfldd"])
def test_unknown_option_is_usage(name):
    r = run(tool(name), "--no-such-option")
    assert r.returncode == USAGE and r.stdout == "", (r.returncode, r.stdout, r.stderr)


def test_pfmount_usage_status():
    assert run(tool("pfmount")).returncode == USAGE
    assert run(tool("pfmount"), "--no-such-option", "a", "b").returncode == USAGE


BAD_VALUES = [
    (["pfexport", "--level", "abc", "{cat}", "{out}.tar.zst"], "--level abc"),
    (["pfexport", "--level", "99", "{cat}", "{out}.tar.zst"], "--level 99"),
    (["pfexport", "--level", "0", "{cat}", "{out}.tar.zst"], "--level 0"),
    (["pfexport", "--level", "7", "{cat}", "{out}"], "only archives"),
    (["pfanalyze", "-c", "{new}", "--max-glibc", "banana", "--", DEB_PY, "-c", "pass"],
     "--max-glibc banana"),
    (["pfanalyze", "-c", "{new}", "--max-glibc", "2.", "--", DEB_PY, "-c", "pass"],
     "--max-glibc 2."),
    (["pfanalyze", "-c", "{new}", "--glibc", "static", "--", DEB_PY, "-c", "pass"],
     "--glibc static"),
    (["pfmount", "{cat}", "{out}", "-o", "timeout=-1"], "timeout=-1"),
    (["pfmount", "{cat}", "{out}", "-o", "verify=maybe"], "verify=maybe"),
    (["pfmount", "{cat}", "{out}", "-o", "readahead=99999999"], "readahead=99999999"),
]


@pytest.mark.parametrize("argv,said", BAD_VALUES, ids=[s for _, s in BAD_VALUES])
def test_bad_option_value_refused_in_one_line(tmp_path, catalogs, argv, said):
    out = tmp_path / "out"
    if argv[0] == "pfmount":
        out.mkdir()
    args = [a.format(cat=catalogs["host"], out=out, new=tmp_path / "new.db") for a in argv]
    before = sorted(os.listdir(tmp_path))
    r = run(tool(args[0]), *args[1:])
    assert r.returncode == USAGE, (r.returncode, r.stderr)
    assert len(lines(r.stderr)) == 1 and said in r.stderr, r.stderr
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, no catalog made


@pytest.mark.parametrize("name", ["out.tar.gz", "out.zip", "out.tar", "dist-1.2", "x.tar.zst/"])
def test_unknown_output_suffix_refused_nothing_written(tmp_path, catalogs, name):
    r = run(tool("pfexport"), catalogs["host"], f"{tmp_path}/{name}")
    assert r.returncode == USAGE, r.stderr
    said = "trailing '/'" if name.endswith("/") else "unknown output form"
    assert len(lines(r.stderr)) == 1 and said in r.stderr, r.stderr
    assert os.listdir(tmp_path) == []


def test_output_forms_by_name(tmp_path, catalogs):
    cat = catalogs["host"]
    # a missing folder named with a trailing slash, an existing empty one,
    # a name without a suffix, and a dotted name made a folder by its slash
    run_ok = [(tmp_path / "new", "new/"), (tmp_path / "empty", "empty/"),
              (tmp_path / "plain", "plain"), (tmp_path / "dist-1.2", "dist-1.2/")]
    (tmp_path / "empty").mkdir()
    for path, arg in run_ok:
        r = run(tool("pfexport"), cat, arg, cwd=tmp_path)
        assert r.returncode == OK, (arg, r.stderr)
        assert (path / "run.sh").is_file(), arg
    for name in ("a.tar.zst", "b.tzst"):
        r = run(tool("pfexport"), cat, name, cwd=tmp_path)
        assert r.returncode == OK, r.stderr
        assert (tmp_path / name).read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame
    # an existing folder keeps being one, whatever its name
    (tmp_path / "v2.0").mkdir()
    r = run(tool("pfexport"), cat, "v2.0", cwd=tmp_path)
    assert r.returncode == OK and (tmp_path / "v2.0" / "run.sh").is_file(), r.stderr
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n or ".old-" in n]


def bad_catalog(tmp_path, kind):
    p = tmp_path / f"bad-{kind}.db"
    if kind == "folder":
        p.mkdir()
    elif kind == "not-sqlite":
        p.write_text("just text, not a database\n")
    return p


def catalog_commands(cat, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    return {
        "pfwhy": [tool("pfwhy"), cat, "run.sh"],
        "pfexport": [tool("pfexport"), cat, tmp_path / "out"],
        "pfmount": [tool("pfmount"), cat, mnt, "-f"],
        "pfanalyze --reanalyze": [tool("pfanalyze"), "-c", cat, "--reanalyze"],
        "pfanalyze": [tool("pfanalyze"), "-c", cat, "--", DEB_PY, "-c", "pass"],
    }


@pytest.mark.parametrize("kind", ["folder", "missing", "not-sqlite"])
def test_bad_catalog_same_status_in_every_tool(tmp_path, kind):
    cat = bad_catalog(tmp_path, kind)
    for name, argv in catalog_commands(cat, tmp_path).items():
        if kind == "missing" and name == "pfanalyze":
            continue  # a missing catalog is where a first run writes
        r = run(*argv)
        assert r.returncode == USAGE, (name, r.returncode, r.stderr)
        assert len(lines(r.stderr)) == 1 and str(cat) in r.stderr, (name, r.stderr)
        assert "disk I/O error" not in r.stderr and "no Python process" not in r.stderr
        assert not (tmp_path / "out").exists()
        assert os.listdir(tmp_path / "mnt") == []


def test_reanalyze_missing_catalog_says_so(tmp_path):
    r = run(tool("pfanalyze"), "-c", tmp_path / "none.db", "--reanalyze")
    assert r.returncode == USAGE and "no such catalog" in r.stderr, r.stderr
    assert not (tmp_path / "none.db").exists()


def mounts_at(mnt):
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4] == str(mnt))


def test_second_pfmount_on_one_mount_point_refused(tmp_path, catalogs):
    mnt = tmp_path / "mnt"
    with mounted(catalogs["host"], mnt):
        r = run(tool("pfmount"), catalogs["bundle"], mnt, "-f")
        assert r.returncode == FAIL, r.stderr
        assert len(lines(r.stderr)) == 1 and "already mounted" in r.stderr, r.stderr
        assert mounts_at(mnt) == 1
        assert (mnt / "run.sh").is_file()


@pytest.mark.parametrize("mode", ["host", "bundle"])
def test_run_sh_symlinked_into_path(tmp_path, catalogs, mode):
    dist = tmp_path / "dist"
    export(catalogs[mode], dist)
    bin_dir, links = tmp_path / "bin", tmp_path / "links"
    bin_dir.mkdir()
    links.mkdir()
    # two levels: PATH/myapp -> ../links/app (relative) -> DIST/run.sh
    (links / "app").symlink_to(dist / "run.sh")
    (bin_dir / "myapp").symlink_to(Path("..") / "links" / "app")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin")
    r = run("myapp", "x", "y", cwd=elsewhere, env=env)
    assert r.returncode == 0 and r.stdout.strip() == 'hello ["x", "y"]', r.stdout + r.stderr
    r = run("myapp", "4", cwd=elsewhere, env=env)
    assert r.returncode == 4, r.stderr
    r = run("sh", "-c", "cd ../bin && ./myapp z", cwd=elsewhere, env=env)
    assert r.returncode == 0 and r.stdout.strip() == 'hello ["z"]', r.stdout + r.stderr


def test_errors_name_user_paths_not_temporaries(tmp_path, catalogs):
    # pfexport: a source changed since the analysis fails the export
    data = catalogs["data"]
    cat = tmp_path / "c.db"
    cat.write_bytes(catalogs["host"].read_bytes())
    saved = data.read_text()
    try:
        data.write_text("changed since the analysis\n")
        for out in ("dist", "dist.tar.zst"):
            r = run(tool("pfexport"), cat, out, cwd=tmp_path)
            assert r.returncode == FAIL, r.stderr
            assert ".tmp-" not in r.stderr, r.stderr
            assert not (tmp_path / out).exists()
    finally:
        data.write_text(saved)
    # pfexport: a folder whose parent is missing
    r = run(tool("pfexport"), cat, "no/such/dist", cwd=tmp_path)
    assert r.returncode == FAIL and "no/such/dist" in r.stderr and ".tmp-" not in r.stderr, \
        r.stderr
    # pfanalyze: a failed analysis names the catalog, not its working copy
    r = analyze(cat, [DEB_PY, "-c", "pass"], "--include-module", "no_such_module_xyz",
                check=False)
    assert r.returncode == FAIL and ".tmp-" not in r.stderr, r.stderr
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]
