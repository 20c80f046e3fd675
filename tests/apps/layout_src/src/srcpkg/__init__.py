import numpy as np


def answer():
    return int(np.array([40, 2]).sum())
