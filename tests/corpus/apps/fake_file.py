"""torch's second trap without torch: a site-packages module (fakefile._ops, installed from
tests/corpus/pkgs/fakefile) sets a made-up relative __file__ = "_ops.py" after it is imported, and
registers a module object (no spec, the same made-up __file__) as fakefile.ops, as torch._ops does;
then the app starts a child process (the tracer looks at sys.modules then), as torch apps do."""
import subprocess
import sys

import fakefile
from fakefile import _ops

print("ops", _ops.run(), _ops.ops.add(1, 2, 3))
print("claimed __file__", _ops.__file__, sys.modules["fakefile.ops"].__file__)
print("package", fakefile.VERSION)
child = subprocess.run([sys.executable, "-c", "import fakefile._ops as o; print(o.run()['args'])"],
                       capture_output=True, text=True, check=True)
print("child", child.stdout.strip())
