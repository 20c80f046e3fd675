"""bitarray and markupsafe: C speedups for bit operations and HTML escaping."""
from bitarray import bitarray
from bitarray.util import ba2hex, count_n, huffman_code
from markupsafe import Markup, escape, _speedups  # noqa: F401

a = bitarray("1101" * 64)
print("count", a.count(), ba2hex(a[:32]), count_n(a, 10))
code = huffman_code({"a": 10, "b": 3, "c": 1})
print("huffman", sorted((k, v.to01()) for k, v in code.items()))
print("escape", escape("<a href='x'>&</a>"), Markup("<b>%s</b>") % "<i>")
