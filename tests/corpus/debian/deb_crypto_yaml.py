"""Debian's python3-cryptography (the system's OpenSSL), python3-yaml (the system's libyaml) and
python3-psutil: native modules from /usr/lib/python3/dist-packages."""
import psutil
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

h = hashes.Hash(hashes.SHA256())
h.update(b"corpus")
print("sha256", h.finalize().hex()[:32])
print("aesgcm", AESGCM(bytes(16)).encrypt(bytes(12), b"payload", None).hex())
print("libyaml", yaml.__with_libyaml__, yaml.load("a: [1, 2]", Loader=yaml.CSafeLoader))
print("psutil pid ok", psutil.Process().pid > 0, "cpus", psutil.cpu_count() > 0)
