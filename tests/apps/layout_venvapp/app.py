"""A project with its venv inside its folder (project/.venv or
project/venv): numpy from the venv, a package of its own beside it."""
import sys

import numpy as np

import helpers

a = np.arange(12, dtype=np.float64).reshape(3, 4)
print("numpy", np.__version__.split(".")[0], "sum", a.sum(), "det", round(float(np.linalg.det(a[:, :3] @ a[:, :3].T + np.eye(3))), 3))
print(helpers.greet(sys.argv[1:]))
