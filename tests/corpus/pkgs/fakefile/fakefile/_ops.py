"""Like torch/_ops.py: the module claims a relative file name that exists nowhere, and so does the
module object it builds and registers in sys.modules (torch.ops is such a types.ModuleType
subclass, with no __spec__ and __file__ = "_ops.py")."""
import sys
import types

import msgpack


def run():
    return msgpack.unpackb(msgpack.packb({"op": "add", "args": [1, 2]}))


class _Ops(types.ModuleType):
    __file__ = "_ops.py"

    def __init__(self):
        super().__init__("fakefile.ops")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *a: (name, sum(a))


ops = _Ops()
sys.modules["fakefile.ops"] = ops
__file__ = "_ops.py"
