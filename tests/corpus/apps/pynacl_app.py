"""PyNaCl: libsodium (bundled) signing, secret boxes, hashing with fixed keys and nonces."""
import nacl.encoding
import nacl.hash
import nacl.pwhash
import nacl.secret
import nacl.signing

sk = nacl.signing.SigningKey(bytes(range(32)))
signed = sk.sign(b"corpus message")
print("sig", signed.signature.hex()[:32], sk.verify_key.verify(signed) == b"corpus message")
box = nacl.secret.SecretBox(bytes(32))
ct = box.encrypt(b"secret", bytes(24))
print("box", ct.ciphertext.hex(), box.decrypt(ct))
print("blake2b", nacl.hash.blake2b(b"corpus", encoder=nacl.encoding.HexEncoder)[:32])
print("argon2", nacl.pwhash.argon2id.kdf(16, b"pw", bytes(16), opslimit=2, memlimit=8 << 20).hex())
