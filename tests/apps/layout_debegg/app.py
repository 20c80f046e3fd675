"""Debian's python3 packages whose metadata is an .egg-info with
PKG-INFO and top_level.txt only (python3-certifi, python3-joblib)."""
import os
from importlib.metadata import version

import certifi
import joblib

print("certifi", version("certifi"), os.path.basename(certifi.where()))
print("joblib", version("joblib"), joblib.Memory(location=None).cache(abs)(-3))
