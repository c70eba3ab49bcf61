"""Authentication between nodes: RFC 9421 HTTP Message Signatures (docs/protocol.md section 15).

Parsing and signature bases come from the ``http-message-signatures``
package; this module fixes what banscan signs and checks.

A **request** signature (label ``banscan``) covers ``"@method"``,
``"@target-uri"`` and ``"content-digest"`` (RFC 9530, sha-256 of the body; a
field without a ``sha-256`` member is refused), with the parameters
``created``, ``keyid`` (the node key's text form), ``nonce`` and ``tag``
(``banscan/1 <network id>``, which binds the network id, so a request from
one network is never valid in another). It is valid for 300 s from
``created``; an ``expires`` parameter, if written, may shorten that. No
signature writes ``alg``: a node key is Ed25519 and nothing else is accepted.

A **response** signature covers ``"@status"``, ``"content-digest"`` and
``"signature";req;key="banscan"``, the request's own signature, which binds
the answer to the request it answers and, through it, to the request's tag
and freshness: its parameters are ``created`` and an empty ``keyid`` (the
asker checks an answer against the key of the peer it asked). An answer that
cannot be bound (to an unsigned request) covers ``"@status"`` and
``"content-digest"`` and carries the ``tag`` as well.

The receiver checks, in order: a signature labelled ``banscan`` is present;
its keyid is a node key, and the signature and the body digest verify;
``alg``, if present, is ed25519 and the tag (where one is required) names the
receiver's network; ``created`` is not in the future; the signer is a member.
For a request, also: the window (``expires``, or ``created`` + 300 s, minus
``created``) is from 0 to 300 s, the window has not ended, and the nonce was
not seen before within it. Clock skew of 30 s is allowed either way. The
clock is injected, so tests move time instead of sleeping.

Errors::

    AuthError                 401 unauthorized
    ├── Unsigned              401 unsigned         no banscan signature
    ├── BadSignature          401 bad-signature    malformed, forged, or body digest wrong
    ├── WrongNetwork          401 wrong-network    tag names another network
    ├── Stale                 401 stale            expired, or a window not within 0..300 s
    ├── FromTheFuture         401 future           created after now (beyond the skew)
    ├── Replay                401 replay           nonce already seen
    ├── UnknownKey            403 unknown-key      keyid is not a node key
    └── NotMember             403 not-member       the key is not a member of the network
"""

import datetime
import secrets
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.digests import ContentDigest
from http_message_signatures.exceptions import HTTPMessageSignaturesException, InvalidSignature
from multidict import CIMultiDict

from federation.replay import NonceCache
from protocol import PROTOCOL_VERSION
from protocol.errors import BanscanError, KeyFormatError
from protocol.keys import NodeKey, parse_key_text

LABEL = "banscan"
MAX_WINDOW_S = 300
_MAX_WINDOW = datetime.timedelta(seconds=MAX_WINDOW_S)
CLOCK_SKEW_S = 30
REQUEST_COMPONENTS = ("@method", "@target-uri", "content-digest")
RESPONSE_COMPONENTS = ("@status", "content-digest", f'"signature";req;key="{LABEL}"')
# An answer to an unsigned request (the public routes) cannot be bound to it.
UNBOUND_RESPONSE_COMPONENTS = ("@status", "content-digest")

# An answer names no key: the asker checks it against the key of the peer it asked.
ANSWER_KEYID = ""

REPLAY_DETAIL = "this request was already received (nonce seen before)"

Clock = Callable[[], float]
Headers = MutableMapping[str, str]


class AuthError(BanscanError):
    """A request's or an answer's signature is missing or fails (the tree: protocol.errors)."""

    status = 401
    code = "unauthorized"


class Unsigned(AuthError):
    code = "unsigned"


class BadSignature(AuthError):
    code = "bad-signature"


class WrongNetwork(AuthError):
    code = "wrong-network"


class Stale(AuthError):
    code = "stale"


class FromTheFuture(AuthError):
    code = "future"


class Replay(AuthError):
    code = "replay"


class UnknownKey(AuthError):
    status = 403
    code = "unknown-key"


class NotMember(AuthError):
    status = 403
    code = "not-member"


@dataclass
class SignedRequest:
    """The parts of an HTTP request that signatures cover."""

    method: str
    url: str
    headers: Headers


@dataclass
class SignedResponse:
    """The parts of an HTTP response that signatures cover, with the request it answers."""

    status_code: int
    request: SignedRequest
    headers: Headers


@dataclass(frozen=True, slots=True)
class RequestSignature:
    """A request signature that passed every check but the replay check."""

    signer: bytes
    keyid: str
    nonce: str
    # Until when the nonce must be remembered: ``expires`` plus the clock skew; after
    # that the ``expires`` check alone refuses the request.
    remember_until: int


def network_tag(network_id: str) -> str:
    return f"{PROTOCOL_VERSION} {network_id}"


class _Keys(HTTPSignatureKeyResolver):
    """Our key to sign; to check, a ``keyid``'s key, or for an empty one the peer asked."""

    def __init__(
        self, private: Ed25519PrivateKey | None = None, asked: bytes | None = None
    ) -> None:
        self._private = private
        self._asked = asked

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        assert self._private is not None
        return self._private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        if not key_id and self._asked is not None:
            return Ed25519PublicKey.from_public_bytes(self._asked)
        try:
            return Ed25519PublicKey.from_public_bytes(parse_key_text(key_id))
        except KeyFormatError as exc:
            raise UnknownKey(f"keyid {key_id[:60]!r} is not a node key: {exc.detail}") from exc


class _Sha256Digest(ContentDigest):
    """``Content-Digest`` as section 15 has it: a ``sha-256`` member is required (the
    package alone accepts a field with only ``sha-512``); any other member must match too."""

    @classmethod
    def verify(cls, value: str | bytes, body: bytes, *, key: str | None = None) -> None:
        if key is None and "sha-256" not in cls._parse(value):
            raise InvalidSignature("Content-Digest has no sha-256 member")
        if key not in (None, "sha-256"):
            raise InvalidSignature("only the sha-256 member of Content-Digest may be covered")
        super().verify(value, body, key=key)


class _Verifier(HTTPMessageVerifier):
    """The package's verifier, with the time checks left to :class:`Authenticator`."""

    content_digest_class = _Sha256Digest

    def __init__(self, keys: _Keys) -> None:
        super().__init__(signature_algorithm=algorithms.ED25519, key_resolver=keys)

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None


class MessageSigner:
    """Signs this node's requests and responses."""

    def __init__(
        self,
        key: NodeKey,
        network_id: str,
        clock: Clock,
        # 96 random bits: a nonce need only be unique among one key's requests of 300 s.
        nonce: Callable[[], str] = lambda: secrets.token_urlsafe(12),
        window_s: int = MAX_WINDOW_S,
    ) -> None:
        self._key = key
        self._tag = network_tag(network_id)
        self._clock = clock
        self._nonce = nonce
        self._window = datetime.timedelta(seconds=min(window_s, MAX_WINDOW_S))
        self._signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519, key_resolver=_Keys(key.private_key)
        )

    def sign_request(self, request: SignedRequest, body: bytes) -> None:
        """Add ``Content-Digest``, ``Signature-Input`` and ``Signature`` to ``request``.
        ``expires`` is written only for a window shorter than the protocol's 300 s."""
        created = self._now()
        self._signer.sign(
            request,
            key_id=self._key.text,
            created=created,
            expires=created + self._window if self._window < _MAX_WINDOW else None,
            nonce=self._nonce(),
            label=LABEL,
            tag=self._tag,
            include_alg=False,
            covered_component_ids=REQUEST_COMPONENTS,
            body=body,
        )

    def sign_response(self, response: SignedResponse, body: bytes, *, bound: bool = True) -> bool:
        """Add ``Content-Digest`` and a signature, bound to the request's own signature
        unless ``bound`` is false (the answer to an unsigned request). A request whose
        signature fields are malformed (refused, then) cannot be bound to: its answer is
        signed unbound. Returns whether the signature is bound."""
        if bound:
            try:
                self._sign_response(response, body, RESPONSE_COMPONENTS)
                return True
            except (HTTPMessageSignaturesException, ValueError, KeyError, TypeError):
                response.headers = headers()
        self._sign_response(response, body, UNBOUND_RESPONSE_COMPONENTS)
        return False

    def _sign_response(
        self, response: SignedResponse, body: bytes, components: tuple[str, ...]
    ) -> None:
        # A bound answer's tag is in the request's signature, which it covers.
        tag = None if components == RESPONSE_COMPONENTS else self._tag
        self._signer.sign(
            response,
            key_id=ANSWER_KEYID,
            created=self._now(),
            label=LABEL,
            tag=tag,
            include_alg=False,
            covered_component_ids=components,
            body=body,
        )

    def _now(self) -> datetime.datetime:
        # RFC 9421 timestamps are whole seconds.
        return datetime.datetime.fromtimestamp(int(self._clock()), tz=datetime.UTC)


class Authenticator:
    """Checks signed requests and responses from peers; returns the signer's public key."""

    def __init__(
        self,
        network_id: str,
        is_member: Callable[[bytes], bool],
        clock: Clock,
        nonces: NonceCache | None = None,
    ) -> None:
        self._tag = network_tag(network_id)
        self._is_member = is_member
        self._clock = clock
        self.nonces = nonces if nonces is not None else NonceCache(clock)
        self._verifier = _Verifier(_Keys())

    def verify_request(self, request: SignedRequest, body: bytes) -> bytes:
        """The signer's key, once every check passed and the nonce is claimed."""
        signature = self.check_request(request, body)
        self.claim(signature)
        return signature.signer

    def check_request(self, request: SignedRequest, body: bytes) -> RequestSignature:
        """Every check but the replay check, which :meth:`claim` makes."""
        params, _ = self._verify(request, body, REQUEST_COMPONENTS, tagged=True)
        created, nonce = params.get("created"), params.get("nonce")
        assert type(created) is int
        expires = params.get("expires", created + MAX_WINDOW_S)
        if type(expires) is not int or type(nonce) is not str or not nonce:
            raise BadSignature("a request signature needs a nonce (and expires, if any, a number)")
        if not 0 <= expires - created <= MAX_WINDOW_S:
            raise Stale(
                f"the signature's window is {expires - created} s; from 0 to {MAX_WINDOW_S}"
            )
        if expires < self._clock() - CLOCK_SKEW_S:
            raise Stale("the request signature has expired")
        keyid = params["keyid"]
        return RequestSignature(parse_key_text(keyid), keyid, nonce, expires + CLOCK_SKEW_S)

    def claim(self, signature: RequestSignature) -> None:
        """Remember the signature's nonce in memory; :class:`Replay` when it is known."""
        if not self.nonces.claim(signature.keyid, signature.nonce, signature.remember_until):
            raise Replay(REPLAY_DETAIL)

    def verify_response(
        self, response: SignedResponse, body: bytes, *, asked: bytes, bound: bool = True
    ) -> bytes:
        """The answer's signer: ``asked`` (the peer's key) for an empty ``keyid``, as nodes
        write them, else the key its ``keyid`` names, for the caller to compare."""
        components = RESPONSE_COMPONENTS if bound else UNBOUND_RESPONSE_COMPONENTS
        params, signer = self._verify(response, body, components, tagged=not bound, asked=asked)
        created = params["created"]
        if created < self._clock() - MAX_WINDOW_S - CLOCK_SKEW_S:
            raise Stale("the response signature is too old")
        return signer

    def _verify(
        self,
        message: SignedRequest | SignedResponse,
        body: bytes,
        components: Iterable[str],
        *,
        tagged: bool,
        asked: bytes | None = None,
    ) -> tuple[dict[str, Any], bytes]:
        """The verified ``banscan`` signature's parameters and signer. ``tagged``: it must
        carry this network's tag (a bound answer's is in the request it covers); ``asked``:
        the key an answer's empty ``keyid`` stands for."""
        if "signature" not in message.headers or "signature-input" not in message.headers:
            raise Unsigned("the message carries no RFC 9421 signature")
        try:
            # The package selects by label only with a tag; a bound answer has none, and
            # section 15 allows one signature: it is taken alone, its label checked below.
            verifier = self._verifier if asked is None else _Verifier(_Keys(asked=asked))
            results = verifier.verify(
                message,
                expect_label=LABEL if tagged else None,
                expect_tag=self._tag if tagged else None,
                require_components=tuple(components),
                body=body,
                max_age=None,
            )
        except AuthError:
            raise
        except HTTPMessageSignaturesException as exc:
            if isinstance(exc.__cause__, AuthError):  # raised by our key resolver
                raise exc.__cause__ from exc
            if tagged and f'tag="{self._tag}"' not in message.headers.get("signature-input", ""):
                raise WrongNetwork(f"the signature is not tagged {self._tag!r}") from exc
            # The library's own words stay out of an answer a client reads.
            raise BadSignature(
                "the signature, or the Content-Digest it covers, does not verify"
            ) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise BadSignature("the signature headers are malformed") from exc
        if len(results) != 1 or results[0].label != LABEL:
            raise BadSignature(f"the message must carry one signature, labelled {LABEL}")
        params: dict[str, Any] = dict(results[0].parameters)
        if type(params.get("keyid")) is not str:
            raise BadSignature("the signature needs a keyid parameter")
        if params.get("alg", "ed25519") != "ed25519":
            raise BadSignature("the signature's alg must be ed25519")
        if params.get("tag", None if tagged else self._tag) != self._tag:
            raise WrongNetwork(f"the signature is not tagged {self._tag!r}")
        created = params.get("created")
        if type(created) is not int:
            raise BadSignature("the signature needs a created parameter")
        if created > self._clock() + CLOCK_SKEW_S:
            raise FromTheFuture("the signature was created in the future")
        signer = parse_key_text(params["keyid"]) if params["keyid"] or asked is None else asked
        if not self._is_member(signer):
            raise NotMember("the signing key is not a member of this network")
        return params, signer


def headers(items: Iterable[tuple[str, str]] = ()) -> CIMultiDict[str]:
    """A case-insensitive header mapping for :class:`SignedRequest` and :class:`SignedResponse`."""
    return CIMultiDict(items)
