"""pycryptodome: native modules loaded through ctypes/cffi by path (Crypto/Cipher/_raw_*.so)."""
from Crypto.Cipher import AES, ChaCha20
from Crypto.Hash import SHA3_256, BLAKE2s
from Crypto.Protocol.KDF import scrypt

key = bytes(range(16))
c = AES.new(key, AES.MODE_GCM, nonce=bytes(12))
ct, tag = c.encrypt_and_digest(b"corpus payload")
print("aes-gcm", ct.hex(), tag.hex())
print("chacha", ChaCha20.new(key=bytes(32), nonce=bytes(8)).encrypt(b"abc").hex())
print("sha3", SHA3_256.new(b"corpus").hexdigest()[:32])
print("blake2s", BLAKE2s.new(digest_bits=128, data=b"x").hexdigest())
print("scrypt", scrypt(b"pw", b"salt", 16, N=1024, r=8, p=1).hex())
