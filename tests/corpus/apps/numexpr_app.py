"""numexpr: the virtual machine with its threads (and VML if present)."""
import numexpr as ne
import numpy as np

a = np.linspace(0, 10, 100000)
b = np.linspace(5, 1, 100000)
r = ne.evaluate("sin(a) ** 2 + cos(b) ** 2 + where(a > b, a, b)")
print("sum", round(float(r.sum()), 4))
print("reduce", round(float(ne.evaluate("sum(a * b)")), 4))
print("complex", ne.evaluate("abs(a + 1j * b)")[:3].round(6).tolist())
print("threads set", ne.set_num_threads(2) > 0)
