"""numpy 2.x: BLAS/LAPACK (vendored OpenBLAS), FFT and random generators."""
import hashlib

import numpy as np

rng = np.random.default_rng(7)
a = rng.standard_normal((200, 200))
b = rng.standard_normal(200)
x = np.linalg.solve(a, b)
print("numpy", np.__version__.split(".")[0])
print("solve residual ok", bool(np.allclose(a @ x, b)))
print("det sign", int(np.sign(np.linalg.det(a[:50, :50]))))
print("svd top", np.round(np.linalg.svd(a[:60, :60], compute_uv=False)[:3], 6).tolist())
print("eigvalsh", np.round(np.linalg.eigvalsh(a[:40, :40] + a[:40, :40].T)[:3], 6).tolist())
print("fft", np.round(np.abs(np.fft.rfft(np.arange(64.0) % 7))[:4], 6).tolist())
print("ints sha", hashlib.sha256(rng.integers(0, 1 << 30, 1000).tobytes()).hexdigest()[:16])
print("matmul sum", round(float((a @ a.T).trace()), 6))
