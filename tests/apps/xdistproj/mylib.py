"""The code under test: what the dist must carry (not the test runner)."""
import json


def encode(x):
    return json.dumps({"x": x}, sort_keys=True)
