"""Debian's python3-numpy: BLAS reached through /etc/alternatives symlinks."""
import sys

import numpy as np

a = np.arange(300 * 300, dtype=np.float64).reshape(300, 300) / 1e4
b = a.T.copy()
c = a @ b  # large enough to go through BLAS dgemm
print("numpy", np.__version__)
print("matmul", round(float(c.sum()), 3), round(float(np.linalg.norm(c)), 3))
print("solve", round(float(np.linalg.solve(a + np.eye(300) * 1e3, np.ones(300)).sum()), 9))
print("args", sys.argv[1:])
