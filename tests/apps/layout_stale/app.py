"""An app whose folder holds what earlier pyfarm runs wrote (a dist, an
archive, a catalog) and build outputs: none of it is the app."""
import sys

import numpy as np

import stalelib

print("stale", stalelib.VALUE, float(np.linalg.norm(np.ones(4))), sys.argv[1:])
