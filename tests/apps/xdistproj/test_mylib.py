import os

import pytest

import mylib


@pytest.mark.parametrize("n", range(16))
def test_encode(n):
    assert mylib.encode(n) == '{"x": %d}' % n
    # which worker ran it, for the tracer test's cross-check
    assert os.environ.get("PYTEST_XDIST_WORKER", "gw?").startswith("gw")
