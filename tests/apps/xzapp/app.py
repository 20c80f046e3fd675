"""Runs an external program (xz) that must come along in the dist."""
import hashlib
import shutil
import subprocess
import sys

data = b"pyfarm " * 5000
packed = subprocess.run(["xz", "-9", "-c"], input=data, capture_output=True, check=True).stdout
unpacked = subprocess.run(["xz", "-d", "-c"], input=packed, capture_output=True, check=True).stdout
print("xz found", shutil.which("xz") is not None)
print("roundtrip", unpacked == data, hashlib.sha256(unpacked).hexdigest()[:16])
print("args", sys.argv[1:])
