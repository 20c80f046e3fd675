"""Two extension modules that need two different libraries of the same
SONAME. Alone, each loads its own; together in one process, glibc reuses the
first by name (shared notes fact 2) unless the dist renamed them."""
import subprocess
import sys

if len(sys.argv) > 2 and sys.argv[1] == "one":
    mod = __import__(sys.argv[2])
    print(sys.argv[2], mod.value())
    sys.exit(0)
for name in ("moda", "modb"):
    subprocess.run([sys.executable, __file__, "one", name], check=True)
import moda  # noqa: E402
import modb  # noqa: E402

print("together", moda.value(), modb.value())
