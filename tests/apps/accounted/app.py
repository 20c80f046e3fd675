"""Every class of item the accounted-for check verifies: an app module,
extension modules and the libraries they map, a program, a data file."""
import lzma
import ssl
import subprocess
import sys

import helper

print(helper.greet(len(sys.argv)))
print("xz", len(lzma.compress(b"pyfarm" * 100)) > 0)
ctx = ssl.create_default_context()
print("ssl", ctx.verify_mode == ssl.CERT_REQUIRED)
print(subprocess.run(["xz", "--version"], capture_output=True, text=True).stdout.split()[0])
