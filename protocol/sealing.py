"""Moderator keys and sealed boxes: the private part of a submission, readable only by moderators.

A moderator key is an X25519 + ML-KEM-768 hybrid (HPKE, RFC 9180, as
``cryptography`` implements it), so a recording of today's ciphertext stays
secret against a future quantum computer as long as either half holds.

A box is sealed once to many moderators, as ``age`` does it: the plaintext is
encrypted under a fresh 256-bit data key with ChaCha20-Poly1305, and the data
key is HPKE-sealed to each moderator's public key. ``context`` (the
submission's id) is bound into both layers, so a box or a wrapped key moved to
another submission does not open.

The node holds only public keys. The private key lives in a file on the
moderator's machine and is never sent to, or written by, a node.

Text forms::

    public key   mlkem768x25519:<base64url of ML-KEM-768 public (1184) || X25519 public (32)>
    key id       the first 12 hex digits of SHA-256(public key bytes): never starts
                 with "-", so a command line never takes it for an option
    key file     JSON: {"type": "banscan-moderator-key", "version": 1,
                        "public": <public text>, "mlkem_seed": <b64url 64>, "x25519": <b64url 32>}
    box          msgpack [1, [[key id, wrapped data key], ...], nonce (12), ciphertext]
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Final

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from protocol.errors import KeyFormatError, MalformedError
from protocol.keys import b64url_decode, b64url_encode

PUBLIC_PREFIX: Final = "mlkem768x25519:"
KEY_FILE_TYPE: Final = "banscan-moderator-key"
BOX_VERSION: Final = 1
_MLKEM_PUBLIC_BYTES: Final = 1184
_X25519_BYTES: Final = 32
_MLKEM_SEED_BYTES: Final = 64
_PUBLIC_BYTES: Final = _MLKEM_PUBLIC_BYTES + _X25519_BYTES
_DOMAIN: Final = b"banscan submission v1\x00"
_SUITE: Final = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
MAX_RECIPIENTS: Final = 64


class SealingError(Exception):
    """A box cannot be opened: not for this key, damaged, or moved to another context."""


@dataclass(frozen=True, slots=True)
class ModeratorPublicKey:
    raw: bytes  # ML-KEM-768 public || X25519 public

    @classmethod
    def parse(cls, text: str) -> "ModeratorPublicKey":
        text = text.strip()
        if not text.startswith(PUBLIC_PREFIX):
            raise KeyFormatError(f"a moderator public key must start with {PUBLIC_PREFIX!r}")
        try:
            raw = b64url_decode(text[len(PUBLIC_PREFIX) :])
        except ValueError as exc:
            raise KeyFormatError(
                f"a moderator public key must be unpadded base64url after {PUBLIC_PREFIX!r}"
            ) from exc
        if len(raw) != _PUBLIC_BYTES:
            raise KeyFormatError(f"a moderator public key is {_PUBLIC_BYTES} bytes, not {len(raw)}")
        key = cls(raw)
        try:
            key._hpke_key()
        except ValueError as exc:
            raise KeyFormatError("the moderator public key is not a valid key") from exc
        return key

    @property
    def text(self) -> str:
        return PUBLIC_PREFIX + b64url_encode(self.raw)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:12]

    def _hpke_key(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:_MLKEM_PUBLIC_BYTES]),
            x25519.X25519PublicKey.from_public_bytes(self.raw[_MLKEM_PUBLIC_BYTES:]),
        )


class ModeratorKey:
    """A moderator's private key. It only ever exists on the moderator's machine."""

    def __init__(self, mlkem_seed: bytes, x25519_private: bytes) -> None:
        self._mlkem = mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed)
        self._x25519 = x25519.X25519PrivateKey.from_private_bytes(x25519_private)
        self.public = ModeratorPublicKey(
            self._mlkem.public_key().public_bytes_raw()
            + self._x25519.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> "ModeratorKey":
        return cls(secrets.token_bytes(_MLKEM_SEED_BYTES), secrets.token_bytes(_X25519_BYTES))

    def file_text(self) -> str:
        return json.dumps(
            {
                "type": KEY_FILE_TYPE,
                "version": 1,
                "public": self.public.text,
                "mlkem_seed": b64url_encode(self._mlkem.private_bytes_raw()),
                "x25519": b64url_encode(self._x25519.private_bytes_raw()),
            },
            indent=2,
        )

    @classmethod
    def from_file_text(cls, text: str, source: str) -> "ModeratorKey":
        """The key a key file holds (:meth:`file_text` made it); ``source`` names the
        file in the errors. Reading and writing the file is the caller's
        (:mod:`node.moderation.keyfile`): this package does no I/O."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise KeyFormatError(f"{source}: the moderator key file is not JSON") from exc
        if not isinstance(data, dict) or data.get("type") != KEY_FILE_TYPE:
            raise KeyFormatError(f"{source}: not a banscan moderator key file")
        if data.get("version") != 1:
            raise KeyFormatError(f"{source}: moderator key file version {data.get('version')!r}")
        try:
            key = cls(b64url_decode(data["mlkem_seed"]), b64url_decode(data["x25519"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyFormatError(f"{source}: the moderator key file is damaged") from exc
        if data.get("public") != key.public.text:
            raise KeyFormatError(f"{source}: the public key does not match the private key")
        return key

    def open(self, box: bytes, context: bytes) -> bytes:
        """The plaintext of a box sealed to this key under ``context``."""
        _, recipients, nonce, ciphertext = decode_box(box)
        wrapped = recipients.get(self.public.key_id)
        if wrapped is None:
            raise SealingError(f"the box is not sealed to moderator key {self.public.key_id}")
        hpke_key = hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x25519)
        try:
            data_key = _SUITE.decrypt(wrapped, hpke_key, info=_DOMAIN + context)
            return ChaCha20Poly1305(data_key).decrypt(nonce, ciphertext, _DOMAIN + context)
        except (InvalidTag, ValueError) as exc:
            raise SealingError("the box does not open: damaged, or sealed for another") from exc


def seal(plaintext: bytes, recipients: list[ModeratorPublicKey], context: bytes) -> bytes:
    """A box that each of ``recipients`` (and nobody else) can open under ``context``."""
    if not recipients:
        raise ValueError("a box needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"a box has at most {MAX_RECIPIENTS} recipients")
    data_key = ChaCha20Poly1305.generate_key()
    nonce = secrets.token_bytes(12)
    ciphertext = ChaCha20Poly1305(data_key).encrypt(nonce, plaintext, _DOMAIN + context)
    wrapped = [
        [key.key_id, _SUITE.encrypt(data_key, key._hpke_key(), info=_DOMAIN + context)]
        for key in recipients
    ]
    box: bytes = msgpack.packb([BOX_VERSION, wrapped, nonce, ciphertext], use_bin_type=True)
    return box


def decode_box(box: bytes) -> tuple[int, dict[str, bytes], bytes, bytes]:
    """(version, {key id: wrapped data key}, nonce, ciphertext) of a box."""
    try:
        value: Any = msgpack.unpackb(box, raw=False, use_list=True, max_ext_len=0)
        version, wrapped, nonce, ciphertext = value
        recipients = {str(key_id): bytes(data) for key_id, data in wrapped}
    except Exception as exc:  # msgpack and unpacking raise many unrelated types
        raise MalformedError("the sealed box is damaged") from exc
    if version != BOX_VERSION or not isinstance(nonce, bytes) or not isinstance(ciphertext, bytes):
        raise MalformedError(f"the sealed box has an unknown layout (version {version!r})")
    return version, recipients, nonce, ciphertext


def box_key_ids(box: bytes) -> list[str]:
    """The key ids of the moderators a box is sealed to."""
    return sorted(decode_box(box)[1])
