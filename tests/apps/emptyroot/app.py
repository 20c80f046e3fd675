"""What glibc and the stdlib reach for by themselves, in a root that has
nothing: name resolution of localhost, the user name from the environment,
local time, and ctypes finding a library by name."""
import ctypes
import ctypes.util
import getpass
import socket
import sys
import time

addrs = {a[4][0] for a in socket.getaddrinfo("localhost", 80, proto=socket.IPPROTO_TCP)}
print("localhost", "127.0.0.1" in addrs)
print("user", getpass.getuser())
print("localtime", time.strftime("%Y", time.localtime(0)) in ("1969", "1970"))
name = ctypes.util.find_library("z")
print("find_library", name)
z = ctypes.CDLL("libz.so.1")
z.zlibVersion.restype = ctypes.c_char_p
print("zlib", z.zlibVersion().decode().split(".")[0])
print("args", sys.argv[1:])
