"""Builds ftext.c for the interpreter running this script, into DEST:
the compiler and flags are that interpreter's own (sysconfig), the file name
carries its EXT_SUFFIX (cpython-313t-... for a free-threaded build). With
an exec_prefix apart from the prefix, pyconfig.h is under the former
(platinclude), Python.h under the latter (include), as setuptools has it."""
import os
import shlex
import subprocess
import sys
import sysconfig

here = os.path.dirname(os.path.abspath(__file__))
dest = sys.argv[1]
cv = sysconfig.get_config_vars()
out = os.path.join(dest, "ftext" + cv["EXT_SUFFIX"])
includes = ["-I" + sysconfig.get_path("include"), "-I" + sysconfig.get_path("platinclude")]
cmd = (shlex.split(cv["CC"]) + shlex.split(cv["CFLAGS"]) + shlex.split(cv["CCSHARED"]) + includes
       + ["-shared", os.path.join(here, "ftext.c"), "-o", out, "-lz"])
subprocess.run(cmd, check=True)
print(out)
