"""numba: llvmlite JIT compiles functions at run time (nopython, parallel off, vectorize)."""
import numpy as np
from numba import njit, vectorize


@njit(cache=False)
def mandel(w, h, it):
    out = np.zeros((h, w), np.int32)
    for j in range(h):
        for i in range(w):
            c = complex(-2 + 3 * i / w, -1.2 + 2.4 * j / h)
            z = 0j
            n = 0
            while n < it and abs(z) < 2:
                z = z * z + c
                n += 1
            out[j, i] = n
    return out


@vectorize(["float64(float64, float64)"])
def hyp(a, b):
    return (a * a + b * b) ** 0.5


print("mandel sum", int(mandel(60, 40, 50).sum()))
print("hyp", hyp(np.array([3.0, 5.0]), np.array([4.0, 12.0])).tolist())
print("signatures", len(mandel.signatures))
