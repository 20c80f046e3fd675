"""scipy: LAPACK through scipy.linalg, sparse solvers, optimize, special, integrate, fft, ndimage."""
import numpy as np
from scipy import fft, integrate, linalg, ndimage, optimize, sparse, special
from scipy.sparse.linalg import spsolve

rng = np.random.default_rng(1)
m = rng.standard_normal((80, 80))
lu, piv = linalg.lu_factor(m)
print("lu_solve", round(float(linalg.lu_solve((lu, piv), np.ones(80)).sum()), 6))
print("expm trace", round(float(np.trace(linalg.expm(m[:10, :10] / 10))), 6))
lap = sparse.diags([-1, 2, -1], [-1, 0, 1], shape=(100, 100), format="csc")
print("spsolve", round(float(spsolve(lap, np.ones(100))[50]), 6))
res = optimize.minimize(optimize.rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method="BFGS")
print("rosen min", np.round(res.x, 4).tolist())
print("gamma/erf/jv", round(float(special.gamma(4.5)), 8), round(float(special.erf(0.3)), 8),
      round(float(special.jv(2, 3.1)), 8))
print("quad", round(integrate.quad(lambda t: np.exp(-t * t), 0, np.inf)[0], 10))
sol = integrate.solve_ivp(lambda t, y: -0.5 * y, (0, 10), [2.0], rtol=1e-10, atol=1e-12)
print("ivp", round(float(sol.y[0, -1]), 6))
print("dct", np.round(fft.dct(np.arange(8.0))[:3], 6).tolist())
print("gauss", round(float(ndimage.gaussian_filter(np.eye(20), 2).sum()), 6))
