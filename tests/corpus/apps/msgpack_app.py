"""msgpack: the C extension packer/unpacker, ext types, streaming unpacker."""
import hashlib

import msgpack
from msgpack import _cmsgpack  # noqa: F401  (fails if only the pure-Python fallback is present)

obj = {"ints": list(range(-5, 300, 37)), "s": "héllo", "b": b"\x00\xff", "nested": [{"x": 1.5}, None, True]}
raw = msgpack.packb(obj, use_bin_type=True)
print("packed", len(raw), hashlib.sha256(raw).hexdigest()[:16])
print("unpacked equal", msgpack.unpackb(raw, raw=False) == obj)
ext = msgpack.packb(msgpack.ExtType(5, b"abc"))
print("ext", msgpack.unpackb(ext))
u = msgpack.Unpacker()
u.feed(msgpack.packb(1) + msgpack.packb([2, 3]) + msgpack.packb("four"))
print("stream", list(u))
print("packer", type(msgpack.Packer()).__module__)
