"""Errors raised by the record format.

Every malformed or hostile input raises a subclass of :class:`ProtocolError`
and nothing else. Each class carries the HTTP status and the stable machine
``code`` that the node reports in its problem+json answers::

    ProtocolError                       400 invalid-record
    ├── MalformedError                  400 malformed        bytes that do not decode
    ├── NonCanonicalError               400 non-canonical    decodes, but not in canonical form
    ├── LimitError                      413 too-large        over a configured size or count limit
    ├── UnknownAudienceError            400 unknown-audience
    ├── WrongNetworkError               400 wrong-network    signed for another network id
    ├── BodyMismatchError               400 body-mismatch    body bytes do not match the envelope
    ├── SignatureError                  400 bad-signature
    ├── BodySchemaError                 422 invalid-body     body fails its kind's schema
    ├── SeqGapError                     409 seq-gap          a feed's seqs must be contiguous
    ├── OriginSuspendedError            403 origin-suspended created since its key was suspended
    ├── OriginRevokedError              403 origin-revoked   created since its key was compromised
    ├── AudienceNotAllowedError         403 audience-not-allowed  not for, or held by, that node
    └── KeyFormatError                  400 bad-key          a key's text form is wrong
"""


class ProtocolError(Exception):
    """Base of every error the record format raises."""

    status = 400
    code = "invalid-record"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MalformedError(ProtocolError):
    code = "malformed"


class NonCanonicalError(ProtocolError):
    code = "non-canonical"


class LimitError(ProtocolError):
    status = 413
    code = "too-large"


class UnknownAudienceError(ProtocolError):
    code = "unknown-audience"


class WrongNetworkError(ProtocolError):
    code = "wrong-network"


class BodyMismatchError(ProtocolError):
    code = "body-mismatch"


class SignatureError(ProtocolError):
    code = "bad-signature"


class BodySchemaError(ProtocolError):
    status = 422
    code = "invalid-body"


class SeqGapError(ProtocolError):
    status = 409
    code = "seq-gap"


class KeyFormatError(ProtocolError):
    code = "bad-key"


class OriginSuspendedError(ProtocolError):
    """A steward suspended the origin: records it created since are refused."""

    status = 403
    code = "origin-suspended"


class OriginRevokedError(ProtocolError):
    """A steward revoked the origin: records it created since it was compromised are refused."""

    status = 403
    code = "origin-revoked"


class AudienceNotAllowedError(ProtocolError):
    """A record or request of an audience that may not go to (or be held by) that node."""

    status = 403
    code = "audience-not-allowed"
