"""bcrypt (Rust): hashing with a fixed salt, checking, KDF."""
import bcrypt

salt = b"$2b$10$abcdefghijklmnopqrstuu"
h = bcrypt.hashpw(b"correct horse", salt)
print("hash", h.decode())
print("check", bcrypt.checkpw(b"correct horse", h), bcrypt.checkpw(b"wrong", h))
print("kdf", bcrypt.kdf(b"password", b"salt", 32, 10).hex())
