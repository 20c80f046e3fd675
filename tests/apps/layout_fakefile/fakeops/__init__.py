import sys
import types

from fakeops import _impl


class _Ops(types.ModuleType):
    __file__ = "_ops.py"  # made up, as torch._ops does

    def __init__(self):
        super().__init__("fakeops.ops")

    def add(self, a, b):
        return _impl.add(a, b)


ops = _Ops()
sys.modules["fakeops.ops"] = ops
