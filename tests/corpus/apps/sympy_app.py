"""sympy (pure Python, mpmath): symbolic work, a control for the pure-Python path."""
import sympy as sp

x, y = sp.symbols("x y")
print(sp.integrate(sp.sin(x) ** 2, x))
print(sp.factor(x ** 4 - y ** 4))
print(sp.solve(x ** 2 - 5 * x + 6, x))
print(sp.series(sp.exp(x), x, 0, 5))
print(sp.N(sp.pi, 40))
print(sp.Matrix([[1, 2], [3, 4]]).inv())
