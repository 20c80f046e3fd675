"""A PEP 420 namespace package spread over three sys.path entries: the
app's folder, a PYTHONPATH folder and the venv's site-packages."""
import nsx
import nsx.alpha
import nsx.beta
import nsx.gamma

print(len(list(nsx.__path__)), nsx.alpha.NAME, nsx.beta.NAME, nsx.gamma.NAME)
