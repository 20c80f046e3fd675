import sys

import numpy as np

from mpkg import util

print("mpkg", util.norm(np.array([3.0, 4.0])), sys.argv[1:])
