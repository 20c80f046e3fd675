"""src layout installed editable (a .pth naming src/)."""
import sys

import srcpkg

print("srcpkg", srcpkg.answer(), srcpkg.__name__, sys.argv[1:])
