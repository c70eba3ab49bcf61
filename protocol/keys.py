"""Ed25519 node keys: generation, the ``ed25519:`` text form, signing and verifying.

Signing uses ``cryptography``. Verifying uses libsodium through PyNaCl: it is
about twice as fast per core and releases the GIL, so a node can verify a batch
on several threads (see ``bench/ingest.py`` for the figures).
"""

import base64
import binascii

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.errors import KeyFormatError

KEY_PREFIX = "ed25519:"
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`; raises ``ValueError`` on anything else."""
    if not text.isascii() or "=" in text:
        raise ValueError("not unpadded base64url")
    padded = text + "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def key_text(public_key: bytes) -> str:
    """The text form of a public key: ``ed25519:`` + base64url of its 32 bytes."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise KeyFormatError(f"a public key is {PUBLIC_KEY_BYTES} bytes, not {len(public_key)}")
    return KEY_PREFIX + b64url_encode(public_key)


def parse_key_text(text: str) -> bytes:
    """The 32 public-key bytes of a key's text form."""
    if not text.startswith(KEY_PREFIX):
        raise KeyFormatError(f"a key must start with {KEY_PREFIX!r}")
    try:
        raw = b64url_decode(text[len(KEY_PREFIX) :])
    except ValueError as exc:
        raise KeyFormatError("a key must be unpadded base64url after 'ed25519:'") from exc
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyFormatError(f"a key is {PUBLIC_KEY_BYTES} bytes, not {len(raw)}")
    return raw


class NodeKey:
    """A node's private signing key."""

    __slots__ = ("_private", "public_key")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key: bytes = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> "NodeKey":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "NodeKey":
        """A key from its 32-byte RFC 8032 seed (used by the test vectors)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, pem: bytes) -> "NodeKey":
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError("the key file is not an unencrypted PKCS#8 PEM key") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFormatError("the key file does not hold an Ed25519 key")
        return cls(private)

    def to_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def text(self) -> str:
        return key_text(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The ``cryptography`` key object, for libraries that sign with it (RFC 9421)."""
        return self._private


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True
