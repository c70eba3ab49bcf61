"""The one error tree of banscan, and the errors raised by the record format.

Every error that can reach a client derives from :class:`BanscanError`, which
carries an HTTP ``status``, a stable machine ``code`` (the problem type of
docs/api.md, "Errors", and docs/protocol.md sections 12 and 22) and a human
``detail``. One middleware, :func:`node.problems.problem_middleware`, answers
all of them as ``application/problem+json``. A class whose ``detail`` may hold
internal text sets ``public_detail``, which the client is told instead::

    BanscanError                            500 internal-error   the base; never raised itself
    ├── ProtocolError                       400 invalid-record   the record format (this module)
    │   ├── MalformedError                  400 malformed        bytes that do not decode
    │   ├── NonCanonicalError               400 non-canonical    decodes, but not in canonical form
    │   ├── LimitError                      413 too-large        over a size or count limit
    │   ├── UnknownAudienceError            400 unknown-audience
    │   ├── WrongNetworkError               400 wrong-network    signed for another network id
    │   ├── BodyMismatchError               400 body-mismatch    body differs from its envelope
    │   ├── SignatureError                  400 bad-signature
    │   ├── BodySchemaError                 422 invalid-body     body fails its kind's schema
    │   ├── SeqGapError                     409 seq-gap          a feed's seqs must be contiguous
    │   ├── KeyFormatError                  400 bad-key          a key's text form is wrong
    │   ├── OriginSuspendedError            403 origin-suspended created since its key was suspended
    │   ├── OriginRevokedError              403 origin-revoked   created since it was compromised
    │   └── AudienceNotAllowedError         403 audience-not-allowed  not for, or held by, that node
    ├── storage.StorageError                503 storage-error    the database (detail kept private)
    │   └── SchemaVersionError              503 schema-too-new   written by a newer banscan
    ├── federation.httpsig.AuthError        401 unauthorized     a request's or answer's signature
    │   ├── Unsigned                        401 unsigned
    │   ├── BadSignature                    401 bad-signature
    │   ├── WrongNetwork                    401 wrong-network
    │   ├── Stale                           401 stale
    │   ├── FromTheFuture                   401 future
    │   ├── Replay                          401 replay
    │   ├── UnknownKey                      403 unknown-key
    │   └── NotMember                       403 not-member
    ├── federation.sync.PeerError           502 peer-error       a peer this node asked failed
    │   ├── Misbehaved                      502 peer-error       it sent what no honest peer sends
    │   └── transport.UnattributedAnswer    502 peer-error       an error answer not signed by it
    ├── node.connections.BodyTimeout        408 request-timeout  a body past [http] body_timeout_s
    └── node.problems.ApiError              400 bad-request      the HTTP API (any status)
        ├── BadParameter                    400 bad-parameter    a query or path parameter
        ├── BadRequest                      400 bad-request      a malformed request body
        ├── Unauthorized                    401 unauthorized     missing or unknown bearer token
        ├── Forbidden                       403 forbidden        the token's role may not do this
        ├── NotFound                        404 not-found
        ├── RequestTimeout                  408 request-timeout  a body that did not arrive in time
        ├── UnsupportedMediaType            415 unsupported-media-type
        ├── TooManyRequests                 429 too-many-requests  with Retry-After
        ├── node.reads.ReadsBusy            503 busy             anonymous reads queued past [reads]
        └── node.moderation.submissions.SubmissionError  422 invalid-submission
            ├── SubmissionsClosed           503 submissions-closed
            ├── SubmissionNotFound          404 not-found
            ├── ModerationConflict          409 moderation-conflict
            └── node.moderation.desk.ClaimHeld  409 claim-held  another moderator's live claim

The record format raises a :class:`ProtocolError` subclass for every malformed
or hostile input, and nothing else. Errors that never reach a client (bad
configuration, CLI refusals) are plain exceptions of their own modules.
"""

from typing import ClassVar


class BanscanError(Exception):
    """Base of every error answered as a problem: an HTTP status, a stable code, a detail."""

    status: int = 500
    code: str = "internal-error"
    # What a client is told instead of ``detail``, when ``detail`` may hold internal text.
    public_detail: ClassVar[str | None] = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ProtocolError(BanscanError):
    """Base of every error the record format raises."""

    status = 400
    code = "invalid-record"


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
