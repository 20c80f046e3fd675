"""The corpus: small apps on the current releases (tests/corpus/requirements.txt, exact pins) of
the native packages users ship most, one venv for all. Each app does real work with its package's
native code and prints deterministic results; each is analyzed (default: hermetic), exported, and
its dist run in an empty root and in a Debian bullseye root, with stdout equal to the source run.
Trap apps without torch: the __mp_main__ alias (mp_alias, mp_alias_threads), a made-up relative
__file__ (fake_file), glibc's own dlopen of libgcc_s at pthread_exit (daemon_threads). Debian's
python3-* packages run with /usr/bin/python3 (tests/corpus/debian/; an app whose packages are not
installed is skipped, naming them). With PYFARM_CORPUS_REPORT=FILE, each app's row is appended to
FILE as a JSON line (bench/corpus_newest.py prints the same table for the newest releases)."""
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus"))
import runner  # noqa: E402
from pyfarm_testlib import make_venv  # noqa: E402

APPS = runner.app_names()
DEBIAN_APPS = runner.app_names(runner.DEBIAN_APPS)
ROOTS = ("empty", "bullseye")


@pytest.fixture(scope="session")
def corpus_venv():
    return make_venv("corpus", runner.pinned_requirements())


def test_corpus_is_large_enough():
    assert len(APPS) >= 30, APPS
    assert {"mp_alias", "fake_file"} <= set(APPS)


def check(row, app):
    report = os.environ.get("PYFARM_CORPUS_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(json.dumps({k: v for k, v in row.items() if k != "source"}) + "\n")
    assert row["source_rc"] == 0, runner.describe(row)
    assert row["source"].strip(), f"{app} printed nothing: a corpus app must print what proves its work"
    assert row["analyze_rc"] == 0, runner.describe(row)
    assert row["traced_same"], runner.describe(row)
    assert row["ok"] == {label: True for label in ROOTS}, runner.describe(row)


def roots(bullseye):
    return [("empty", None), ("bullseye", bullseye)]


@pytest.mark.parametrize("app", APPS)
def test_corpus_app(app, corpus_venv, bullseye, tmp_path):
    check(runner.run_app(app, corpus_venv / "bin" / "python", tmp_path, roots(bullseye)), app)


@pytest.mark.parametrize("app", DEBIAN_APPS)
def test_corpus_debian_app(app, bullseye, tmp_path):
    src = runner.DEBIAN_APPS / f"{app}.py"
    missing = runner.missing_modules(runner.DEBIAN_PYTHON, src)
    if missing:
        pytest.skip(f"{runner.DEBIAN_PYTHON} lacks {missing}: "
                    "Debian's python3-* packages are not installed here")
    row = runner.run_app(app, runner.DEBIAN_PYTHON, tmp_path, roots(bullseye), apps=runner.DEBIAN_APPS)
    check(row, app)
