"""Shared fixtures: the venvs the tests trace (real packages from PyPI,
pinned), made once and cached between runs."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pyfarm_testlib as lib  # noqa: E402

CV_REQUIREMENTS = ["numpy==1.26.4", "opencv-python-headless==4.9.0.80", "certifi==2024.2.2"]
XDIST_REQUIREMENTS = ["pytest==8.3.3", "pytest-xdist==3.6.1", "six==1.16.0"]


@pytest.fixture(scope="session")
def venv_numpy_cv():
    return lib.make_venv("numpy-cv", CV_REQUIREMENTS)


@pytest.fixture(scope="session")
def venv_xdist():
    return lib.make_venv("xdist", XDIST_REQUIREMENTS)


@pytest.fixture(scope="session")
def tox_envs():
    """Two environments of one base, like tox's, with overlapping packages
    at different versions."""
    return (lib.make_venv("tox-py-a", ["six==1.15.0"]), lib.make_venv("tox-py-b", ["six==1.16.0"]))


def _distro_root(suite, packages=()):
    root = lib.debootstrap_root(suite, packages)
    if root is None:
        pytest.skip(f"debootstrap could not make a {suite} root here (no mirror or no network)")
    return root


@pytest.fixture(scope="session")
def bullseye():
    """Debian bullseye (glibc 2.31), minbase, cached."""
    return _distro_root("bullseye")


@pytest.fixture(scope="session")
def trixie():
    """Debian trixie (glibc 2.41, Python 3.13 with numpy), cached."""
    return _distro_root("trixie", ("python3", "python3-numpy"))
