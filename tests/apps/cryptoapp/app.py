"""Debian's python3-cryptography on the system OpenSSL, whose configuration
file and providers are read at run time; plus the ssl module."""
import ssl
import sys

from cryptography.hazmat.backends.openssl.backend import backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

key, iv = bytes(range(32)), bytes(range(16))
enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
ct = enc.update(b"sixteen byte msg" * 4) + enc.finalize()
h = hashes.Hash(hashes.SHA256())
h.update(ct)
print("openssl", backend.openssl_version_text().split()[1])
print("aes+sha256", h.finalize().hex()[:24])
ctx = ssl.create_default_context()
print("ssl", ssl.OPENSSL_VERSION.split()[1], ctx.verify_mode == ssl.CERT_REQUIRED)
print("args", sys.argv[1:])
