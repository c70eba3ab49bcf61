"""RFC 9421 signatures between nodes: the RFC's vector, an independent check, every refusal."""

import base64
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

from federation.httpsig import (
    MAX_WINDOW_S,
    REQUEST_COMPONENTS,
    RESPONSE_COMPONENTS,
    Authenticator,
    AuthError,
    MessageSigner,
    SignedRequest,
    SignedResponse,
    headers,
    network_tag,
)
from federation.replay import NonceCache
from protocol.keys import NodeKey, verify_signature
from tests.factories import seeded_key

VECTOR = json.loads((Path(__file__).parent / "vectors" / "rfc9421.json").read_text())
URL = "http://127.0.0.1:8470/federation/v1/sync"
BODY = b"\x81\xa6digest\xc4\x20" + bytes(32)
ALICE = seeded_key("alice")
MALLORY = seeded_key("mallory")


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _VectorKeys(HTTPSignatureKeyResolver):
    def resolve_private_key(self, key_id: str) -> Any:
        return serialization.load_pem_private_key(VECTOR["private_key_pem"].encode(), None)

    def resolve_public_key(self, key_id: str) -> Any:
        return serialization.load_pem_public_key(VECTOR["public_key_pem"].encode())


def vector_request() -> SignedRequest:
    request = VECTOR["request"]
    return SignedRequest(request["method"], request["url"], headers(map(tuple, request["headers"])))


def test_rfc9421_b26_signature_is_reproduced() -> None:
    """The package we build on signs the RFC's ed25519 example to the RFC's exact bytes."""
    request = vector_request()
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_VectorKeys()).sign(
        request,
        key_id=VECTOR["keyid"],
        created=datetime.datetime.fromtimestamp(VECTOR["created"], tz=datetime.UTC),
        label=VECTOR["label"],
        include_alg=False,
        covered_component_ids=VECTOR["covered_components"],
        use_existing_digest=True,
    )
    assert request.headers["Signature-Input"] == VECTOR["signature_input"]
    assert request.headers["Signature"] == VECTOR["signature"]


def test_rfc9421_b26_signature_verifies_with_our_ed25519() -> None:
    """Our own Ed25519 verifier (libsodium) accepts the RFC's signature over its base."""
    public = serialization.load_pem_public_key(VECTOR["public_key_pem"].encode())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = base64.b64decode(VECTOR["signature"].split(":")[1])
    assert verify_signature(raw, VECTOR["signature_base"].encode(), signature)
    request = vector_request()
    request.headers["Signature-Input"] = VECTOR["signature_input"]
    request.headers["Signature"] = VECTOR["signature"]
    results = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_VectorKeys()
    ).verify(request, max_age=None)
    assert results[0].label == VECTOR["label"]


def signed_request(
    key: NodeKey = ALICE, clock: Clock | None = None, body: bytes = BODY, network: str = "net"
) -> SignedRequest:
    request = SignedRequest("POST", URL, headers([("Content-Type", "application/msgpack")]))
    MessageSigner(key, network, clock or Clock()).sign_request(request, body)
    return request


def authenticator(clock: Clock | None = None, members: set[bytes] | None = None) -> Authenticator:
    allowed = {ALICE.public_key, MALLORY.public_key} if members is None else members
    return Authenticator("net", allowed.__contains__, clock or Clock())


def test_our_request_signature_base_by_hand() -> None:
    """Build the RFC 9421 signature base ourselves and check the signature with libsodium,
    so what we send is checked by something other than the package that made it."""
    request = signed_request()
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert request.headers["Content-Digest"] == f"sha-256=:{digest}:"
    label, _, params = request.headers["Signature-Input"].partition("=")
    assert label == "banscan"
    assert params.startswith('("@method" "@target-uri" "content-digest");')
    base = (
        f'"@method": POST\n"@target-uri": {URL}\n"content-digest": sha-256=:{digest}:\n'
        f'"@signature-params": {params}'
    ).encode()
    signature = base64.b64decode(request.headers["Signature"].split(":")[1])
    assert verify_signature(ALICE.public_key, base, signature)
    assert f'tag="{network_tag("net")}"' in params
    assert f'keyid="{ALICE.text}"' in params


def test_request_and_response_round_trip() -> None:
    clock = Clock()
    request = signed_request(clock=clock)
    assert authenticator(clock).verify_request(request, BODY) == ALICE.public_key
    response = SignedResponse(200, request, headers())
    MessageSigner(MALLORY, "net", clock).sign_response(response, b"answer")
    assert (
        authenticator(clock).verify_response(response, b"answer", asked=MALLORY.public_key)
        == MALLORY.public_key
    )


def test_a_response_is_bound_to_its_request() -> None:
    clock = Clock()
    response = SignedResponse(200, signed_request(clock=clock), headers())
    MessageSigner(MALLORY, "net", clock).sign_response(response, b"answer")
    # The same signed answer presented for another request does not verify.
    moved = SignedResponse(200, signed_request(clock=clock), response.headers)
    with pytest.raises(AuthError) as caught:
        authenticator(clock).verify_response(moved, b"answer", asked=MALLORY.public_key)
    assert caught.value.code == "bad-signature"


def forged() -> SignedRequest:
    request = signed_request(MALLORY)
    request.headers["Signature-Input"] = request.headers["Signature-Input"].replace(
        MALLORY.text, ALICE.text
    )
    return request


def unsigned() -> SignedRequest:
    request = signed_request()
    del request.headers["Signature"]
    return request


def hand_signed(expires_after: int = MAX_WINDOW_S, digest: str | None = None) -> SignedRequest:
    """Alice's request signed by the package directly, so it may break our profile:
    its window, or a ``Content-Digest`` of our choosing."""
    request = SignedRequest("POST", URL, headers())
    if digest is not None:
        request.headers["Content-Digest"] = digest
    created = datetime.datetime.fromtimestamp(Clock()(), tz=datetime.UTC)
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"alice").digest())

    class Keys(HTTPSignatureKeyResolver):
        def resolve_private_key(self, key_id: str) -> Any:
            return private

    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Keys()).sign(
        request,
        key_id=ALICE.text,
        created=created,
        expires=created + datetime.timedelta(seconds=expires_after),
        nonce="n",
        label="banscan",
        tag=network_tag("net"),
        covered_component_ids=REQUEST_COMPONENTS,
        body=None if digest is not None else BODY,
        use_existing_digest=digest is not None,
    )
    return request


def long_window() -> SignedRequest:
    return hand_signed(expires_after=MAX_WINDOW_S + 1)


def expires_before_created() -> SignedRequest:
    return hand_signed(expires_after=-10)


def sha512_only() -> SignedRequest:
    digest = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    return hand_signed(digest=f"sha-512=:{digest}:")


@pytest.mark.parametrize(
    ("make", "body", "clock_at", "members", "status", "code"),
    [
        (unsigned, BODY, 0, None, 401, "unsigned"),
        (forged, BODY, 0, None, 401, "bad-signature"),
        (signed_request, b"tampered", 0, None, 401, "bad-signature"),
        (lambda: signed_request(network="other"), BODY, 0, None, 401, "wrong-network"),
        (signed_request, BODY, MAX_WINDOW_S + 31, None, 401, "stale"),
        (signed_request, BODY, -31, None, 401, "future"),
        (long_window, BODY, 0, None, 401, "stale"),
        (expires_before_created, BODY, 0, None, 401, "stale"),
        (sha512_only, BODY, 0, None, 401, "bad-signature"),
        (signed_request, BODY, 0, set(), 403, "not-member"),
    ],
    ids=[
        "unsigned",
        "forged",
        "tampered",
        "network",
        "stale",
        "future",
        "window",
        "expires-before-created",
        "sha-512-only",
        "member",
    ],
)
def test_refusals(
    make: Any, body: bytes, clock_at: int, members: set[bytes] | None, status: int, code: str
) -> None:
    request = make()
    clock = Clock(Clock().now + clock_at)
    with pytest.raises(AuthError) as caught:
        authenticator(clock, members).verify_request(request, body)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_unknown_key() -> None:
    request = signed_request()
    request.headers["Signature-Input"] = request.headers["Signature-Input"].replace(
        ALICE.text, "ed25519:not-a-key"
    )
    with pytest.raises(AuthError) as caught:
        authenticator().verify_request(request, BODY)
    assert (caught.value.status, caught.value.code) == (403, "unknown-key")


def test_replay_is_refused_until_the_signature_expires() -> None:
    clock = Clock()
    checker = authenticator(clock)
    request = signed_request(clock=clock)
    checker.verify_request(request, BODY)
    with pytest.raises(AuthError) as caught:
        checker.verify_request(request, BODY)
    assert caught.value.code == "replay"
    clock.now += MAX_WINDOW_S + 31
    with pytest.raises(AuthError) as expired:
        checker.verify_request(request, BODY)
    assert expired.value.code == "stale"


def test_nonce_cache_is_bounded() -> None:
    clock = Clock()
    cache = NonceCache(clock, capacity=10)
    for n in range(25):
        assert cache.claim("k", str(n), clock.now + n)
    assert len(cache) <= 10
    assert not cache.claim("k", "24", clock.now + 24)
    clock.now += 100
    assert cache.claim("k", "24", clock.now + 300)


def test_signatures_carry_only_the_parameters_a_peer_uses() -> None:
    """No ``alg`` (the key names it), no ``expires`` (always created + 300), a 16-character
    nonce, and no tag on a bound answer (the request's signature it covers has one)."""
    clock = Clock()
    request = signed_request(clock=clock)
    params = request.headers["Signature-Input"]
    assert "alg=" not in params
    assert "expires=" not in params
    nonce = params.split('nonce="')[1].split('"')[0]
    assert len(nonce) == 16
    bound = SignedResponse(200, request, headers())
    MessageSigner(MALLORY, "net", clock).sign_response(bound, b"answer")
    assert bound.headers["Signature-Input"].endswith('keyid=""')
    unbound = SignedResponse(200, request, headers())
    MessageSigner(MALLORY, "net", clock).sign_response(unbound, b"answer", bound=False)
    assert f'tag="{network_tag("net")}"' in unbound.headers["Signature-Input"]
    assert "alg=" not in unbound.headers["Signature-Input"]
    check = authenticator(clock)
    assert (
        check.verify_response(unbound, b"answer", asked=MALLORY.public_key, bound=False)
        == MALLORY.public_key
    )


def test_a_request_without_expires_is_valid_for_300_seconds() -> None:
    clock = Clock()
    request = signed_request(clock=clock)
    clock.now += MAX_WINDOW_S + 30  # the window and the allowed skew
    assert authenticator(clock).verify_request(request, BODY) == ALICE.public_key
    clock.now += 1
    with pytest.raises(AuthError) as caught:
        authenticator(clock).verify_request(request, BODY)
    assert caught.value.code == "stale"


def test_the_earlier_form_with_alg_and_expires_is_still_accepted() -> None:
    request = hand_signed()  # the package's defaults: alg="ed25519", an expires
    assert 'alg="ed25519"' in request.headers["Signature-Input"]
    assert authenticator().verify_request(request, BODY) == ALICE.public_key


def test_a_bound_answer_tagged_for_another_network_is_refused() -> None:
    clock = Clock()
    request = signed_request(clock=clock)
    response = SignedResponse(200, request, headers())
    MessageSigner(MALLORY, "other", clock).sign_response(response, b"answer", bound=False)
    # Signed unbound for another network, then offered as a bound answer: wrong components.
    with pytest.raises(AuthError):
        authenticator(clock).verify_response(response, b"answer", asked=MALLORY.public_key)
    response = SignedResponse(200, request, headers())
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=_MalloryKeys(),
    )
    signer.sign(
        response,
        key_id=MALLORY.text,
        created=datetime.datetime.fromtimestamp(clock(), tz=datetime.UTC),
        label="banscan",
        tag=network_tag("other"),
        covered_component_ids=RESPONSE_COMPONENTS,
        body=b"answer",
    )
    with pytest.raises(AuthError) as caught:
        authenticator(clock).verify_response(response, b"answer", asked=MALLORY.public_key)
    assert caught.value.code == "wrong-network"


class _MalloryKeys(HTTPSignatureKeyResolver):
    def resolve_private_key(self, key_id: str) -> Any:
        return MALLORY.private_key
