"""statsmodels: OLS, GLM, ARIMA (Cython Kalman filter) on fixed data; patsy formulas."""
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.tsa.arima.model import ARIMA

rng = np.random.default_rng(5)
x = rng.standard_normal(200)
df = pd.DataFrame({"x": x, "z": rng.standard_normal(200)})
df["y"] = 1.5 + 2.0 * df.x - 0.5 * df.z + rng.standard_normal(200) * 0.1
ols = smf.ols("y ~ x + z", data=df).fit()
print("ols", np.round(ols.params.values, 4).tolist(), "r2", round(ols.rsquared, 4))
glm = sm.GLM((df.y > 1.5).astype(int), sm.add_constant(df[["x"]]), family=sm.families.Binomial()).fit()
print("glm", np.round(glm.params.values, 3).tolist())
series = np.cumsum(rng.standard_normal(120)) * 0.1 + np.sin(np.arange(120) / 5)
ar = ARIMA(series, order=(1, 0, 0)).fit()
print("arima ar1", round(float(ar.params[1]), 3))
