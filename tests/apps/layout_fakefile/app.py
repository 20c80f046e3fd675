"""A package that registers a module object claiming a made-up relative
__file__ (as torch._ops does with "_ops.py")."""
import sys

import fakeops

print("fakeops", fakeops.ops.add(2, 3), sys.modules["fakeops.ops"].__file__)
