"""The standard library's extension modules and the libraries they link: ssl, sqlite3, lzma, bz2, ctypes, decimal."""
import bz2
import ctypes
import ctypes.util
import decimal
import hashlib
import lzma
import sqlite3
import ssl
import zlib

print("ssl", ssl.OPENSSL_VERSION.split()[0], bool(ssl.create_default_context()))
con = sqlite3.connect(":memory:")
con.execute("create table t(a)")
con.executemany("insert into t values (?)", [(i,) for i in range(100)])
print("sqlite", con.execute("select sum(a), json_array(1, 2) from t").fetchone())
data = b"corpus " * 1000
print("lzma", len(lzma.compress(data)) > 0, lzma.decompress(lzma.compress(data)) == data)
print("bz2", hashlib.sha256(bz2.compress(data)).hexdigest()[:16], "zlib", zlib.crc32(data))
decimal.getcontext().prec = 50
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
libm = ctypes.CDLL(ctypes.util.find_library("m"))
libm.cbrt.restype = ctypes.c_double
libm.cbrt.argtypes = [ctypes.c_double]
print("ctypes cbrt", libm.cbrt(27.0))
print("sha3", hashlib.sha3_256(data).hexdigest()[:16], "blake2", hashlib.blake2b(data).hexdigest()[:16])
