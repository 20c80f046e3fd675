import numpy as np


def norm(v):
    return float(np.linalg.norm(v))
