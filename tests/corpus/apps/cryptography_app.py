"""cryptography: Rust/OpenSSL backend: hashes, HKDF, AES-GCM, Ed25519, X.509 with fixed keys."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

h = hashes.Hash(hashes.SHA3_256())
h.update(b"corpus")
print("sha3", h.finalize().hex()[:32])
key = HKDF(hashes.SHA256(), 32, b"salt", b"info").derive(b"secret")
print("hkdf", key.hex())
print("aesgcm", AESGCM(key).encrypt(b"\0" * 12, b"payload", b"aad").hex())
print("chacha", ChaCha20Poly1305(key).encrypt(b"\1" * 12, b"payload", None).hex())
sk = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
print("ed25519", sk.sign(b"message").hex()[:32])
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus")])
when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(sk.public_key())
        .serial_number(42).not_valid_before(when).not_valid_after(when + datetime.timedelta(days=1))
        .sign(sk, None))
der = cert.public_bytes(serialization.Encoding.DER)
print("cert", len(der), x509.load_der_x509_certificate(der).subject.rfc4514_string())
