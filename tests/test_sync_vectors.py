"""The committed federation vectors (``tests/vectors/sync.json``, docs/protocol.md part II).

Every digest and message is recomputed with ``protocol.sync`` from the inputs
written in the file, every message decodes and re-encodes to the same bytes,
the signature bases are checked with plain Ed25519, and the generator must
still give exactly the committed file, so drift is caught.
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from federation.httpsig import Authenticator, SignedRequest, SignedResponse, headers
from protocol.keys import NodeKey, verify_signature
from protocol.limits import DEFAULT_LIMITS
from protocol.records import decode_batch, encode_batch
from protocol.sync import (
    BUCKETS,
    EntriesAnswer,
    EntriesRequest,
    PullRequest,
    SyncAnswer,
    SyncRequest,
    Want,
    bucket_digests,
    bucket_of,
    decode_entries_answer,
    decode_pull_request,
    decode_push_answer,
    decode_sync_answer,
    decode_sync_step,
    encode_entries_answer,
    encode_entries_request,
    encode_pull_request,
    encode_push_answer,
    encode_sync_answer,
    encode_sync_request,
    vector_digest,
)
from tests.test_vectors import PROTOCOL_MD, _annotated_hex_blocks
from tests.vectors.generate import build_sync_vectors, render

VECTORS = Path(__file__).parent / "vectors"
SYNC: dict[str, Any] = json.loads((VECTORS / "sync.json").read_text(encoding="utf-8"))
RECORDS: dict[str, Any] = json.loads((VECTORS / "records.json").read_text(encoding="utf-8"))
SEEDS = {entry["name"]: bytes.fromhex(entry["seed"]) for entry in RECORDS["keys"]}
MESSAGES = {name: bytes.fromhex(data) for name, data in SYNC["messages"].items()}
SESSION = SYNC["session"]


def _vector(description: dict[str, Any]) -> dict[tuple[bytes, str], int]:
    return {(bytes.fromhex(e["origin"]), e["audience"]): e["seq"] for e in description["entries"]}


def _all_vectors() -> list[Any]:
    return [
        pytest.param(SYNC["answerer"]["vector"], id="answerer"),
        pytest.param(SYNC["asker"]["vector"], id="asker"),
        pytest.param(SESSION["asker_vector"], id="session-asker"),
        pytest.param(SESSION["answerer_vector"], id="session-answerer"),
    ]


def test_the_committed_file_is_what_the_generator_builds() -> None:
    committed = (VECTORS / "sync.json").read_text(encoding="utf-8")
    assert committed == render(build_sync_vectors()), "run: python3 tests/vectors/generate.py"


def test_empty_digests() -> None:
    assert SYNC["buckets"] == BUCKETS
    assert vector_digest({}).hex() == SYNC["empty_vector_digest"]
    assert {d.hex() for d in bucket_digests({})} == {SYNC["empty_bucket_digest"]}


@pytest.mark.parametrize("description", _all_vectors())
def test_vector_digest_and_buckets_are_recomputed(description: dict[str, Any]) -> None:
    vector = _vector(description)
    for entry in description["entries"]:
        origin = bytes.fromhex(entry["origin"])
        assert bucket_of(origin) == entry["bucket"] == origin[0] % 64
        raw = origin + entry["audience"].encode() + b"\x00" + entry["seq"].to_bytes(8, "big")
        assert raw.hex() == entry["entry_bytes"]
    assert vector_digest(vector).hex() == description["digest"]
    assert [d.hex() for d in bucket_digests(vector)] == description["bucket_digests"]


def test_the_session_messages_are_recomputed() -> None:
    audiences = tuple(SESSION["audiences"])
    ours, theirs = _vector(SESSION["asker_vector"]), _vector(SESSION["answerer_vector"])
    buckets = tuple(bytes.fromhex(d) for d in SESSION["answerer_vector"]["bucket_digests"])
    differing = tuple(SESSION["differing_buckets"])
    mine = bucket_digests(ours)
    assert differing == tuple(i for i in range(BUCKETS) if mine[i] != buckets[i])
    sent = {feed: seq for feed, seq in ours.items() if bucket_of(feed[0]) in differing}
    answered = {feed: seq for feed, seq in theirs.items() if bucket_of(feed[0]) in differing}
    wants = tuple(
        Want(bytes.fromhex(w["origin"]), w["audience"], w["after"], w["upto"])
        for w in SESSION["wants"]
    )
    expected = {
        "sync_request": encode_sync_request(SyncRequest(audiences, vector_digest(ours))),
        "sync_answer": encode_sync_answer(SyncAnswer(audiences, False, buckets)),
        "entries_request": encode_entries_request(EntriesRequest(audiences, differing, sent)),
        "entries_answer": encode_entries_answer(EntriesAnswer(answered)),
        "pull_request": encode_pull_request(PullRequest(wants, 500)),
        "in_sync_request": encode_sync_request(SyncRequest(audiences, vector_digest(theirs))),
        "in_sync_answer": encode_sync_answer(SyncAnswer(audiences, True)),
    }
    for name, data in expected.items():
        assert data == MESSAGES[name], name


def test_the_in_sync_round_trip_is_under_1_kb() -> None:
    assert len(MESSAGES["in_sync_request"]) + len(MESSAGES["in_sync_answer"]) < 1024


def test_the_pull_answer_is_the_wanted_records_in_order() -> None:
    batch = decode_batch(MESSAGES["pull_answer"], DEFAULT_LIMITS)
    assert [r.id.hex() for r in batch] == SESSION["pulled"]
    wanted = [
        (w["origin"], w["audience"], seq)
        for w in SESSION["wants"]
        for seq in range(w["after"] + 1, w["upto"] + 1)
    ]
    by_id = {r["record_id"]: r["envelope_fields"] for r in RECORDS["records"]}
    got = [by_id[i] for i in SESSION["pulled"]]
    assert [(f["origin"], f["audience"], f["seq"]) for f in got] == wanted


@pytest.mark.parametrize("name", ["sync_request", "entries_request", "in_sync_request"])
def test_sync_steps_decode_and_re_encode(name: str) -> None:
    step = decode_sync_step(MESSAGES[name])
    if isinstance(step, SyncRequest):
        assert encode_sync_request(step) == MESSAGES[name]
    else:
        assert encode_entries_request(step) == MESSAGES[name]


def test_public_sync_request_asks_for_public_only() -> None:
    step = decode_sync_step(MESSAGES["public_sync_request"])
    assert isinstance(step, SyncRequest)
    assert step.audiences == ("public",)
    assert encode_sync_request(step) == MESSAGES["public_sync_request"]


@pytest.mark.parametrize("name", ["sync_answer", "in_sync_answer"])
def test_sync_answers_decode_and_re_encode(name: str) -> None:
    assert encode_sync_answer(decode_sync_answer(MESSAGES[name])) == MESSAGES[name]


def test_other_messages_decode_and_re_encode() -> None:
    entries = MESSAGES["entries_answer"]
    assert encode_entries_answer(decode_entries_answer(entries)) == entries
    pull = MESSAGES["pull_request"]
    assert encode_pull_request(decode_pull_request(pull, 500)) == pull
    push = MESSAGES["push_answer"]
    assert encode_push_answer(decode_push_answer(push)) == push
    for name in ("pull_answer", "push_request"):
        batch = decode_batch(MESSAGES[name], DEFAULT_LIMITS)
        assert encode_batch(batch) == MESSAGES[name]


def _raw_signature(header: str) -> bytes:
    label, _, value = header.partition("=")
    assert label == "banscan"
    return base64.b64decode(value.strip(":"))


@pytest.mark.parametrize("part", ["request", "response", "unbound_response"])
def test_signature_base_verifies_with_plain_ed25519(part: str) -> None:
    vector = SYNC["signatures"][part]
    key = NodeKey.from_seed(SEEDS[vector["key"]])
    body = MESSAGES[vector["body"]]
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert vector["content_digest"] == f"sha-256=:{digest}:"
    base = vector["signature_base"]
    assert base.endswith(vector["signature_input"].removeprefix("banscan="))
    # A request names its key; an answer leaves it to the asker, who knows whom it asked.
    assert f'keyid="{key.text if part == "request" else ""}"' in base
    assert verify_signature(key.public_key, base.encode(), _raw_signature(vector["signature"]))


def test_signed_request_and_answers_pass_the_node_checks() -> None:
    vectors = SYNC["signatures"]
    request_vector = vectors["request"]
    authenticator = Authenticator(SYNC["network_id"], lambda key: True, lambda: 1_760_000_000.0)
    request = SignedRequest(
        "POST",
        request_vector["url"],
        headers(
            [
                ("Content-Type", "application/msgpack"),
                ("Content-Digest", request_vector["content_digest"]),
                ("Signature-Input", request_vector["signature_input"]),
                ("Signature", request_vector["signature"]),
            ]
        ),
    )
    asker = NodeKey.from_seed(SEEDS["chapter"]).public_key
    steward = NodeKey.from_seed(SEEDS["steward"]).public_key
    assert authenticator.verify_request(request, MESSAGES["sync_request"]) == asker
    for part, bound in (("response", True), ("unbound_response", False)):
        vector = vectors[part]
        response = SignedResponse(
            200,
            request,
            headers(
                [
                    ("Content-Type", "application/msgpack"),
                    ("Content-Digest", vector["content_digest"]),
                    ("Signature-Input", vector["signature_input"]),
                    ("Signature", vector["signature"]),
                ]
            ),
        )
        signer = authenticator.verify_response(
            response, MESSAGES["sync_answer"], asked=steward, bound=bound
        )
        assert signer == steward


def test_worked_example_in_protocol_md_matches_the_vectors() -> None:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    blocks = _annotated_hex_blocks(text)
    for name in ("sync_request", "entries_answer", "in_sync_answer"):
        assert blocks[name] == MESSAGES[name], name
    assert SESSION["asker_vector"]["digest"] in text
    assert SESSION["answerer_vector"]["digest"] in text
    assert SYNC["empty_vector_digest"] in text
    assert SYNC["empty_bucket_digest"] in text
    request = SYNC["signatures"]["request"]
    assert request["signature_base"] in text
    for field in ("content_digest", "signature_input", "signature"):
        assert request[field] in text
    for name in ("sync_request", "sync_answer", "in_sync_answer"):
        assert f"{len(MESSAGES[name])} bytes" in text, name
