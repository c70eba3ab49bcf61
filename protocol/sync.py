"""Federation messages: vectors, their digests, and the sync requests and answers.

A node's **vector** maps each feed ``(origin, audience)`` it holds to the
highest contiguous seq it holds. Two nodes hold the same records of a set of
audiences exactly when their vectors restricted to those audiences are equal,
so a sync session starts by comparing digests (docs/protocol.md section 18).

Feeds are spread over :data:`BUCKETS` buckets by the first byte of their
origin. When the digests differ, the answer carries one short digest per
bucket, and only the entries of the buckets that differ are exchanged.

Every message is a msgpack map with string keys; records travel as batches
(:func:`protocol.records.encode_batch`). Decoders check every field and raise
:class:`~protocol.errors.MalformedError` (or :class:`LimitError` for too many
entries) naming what is wrong.
"""

import hashlib
import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack

from protocol.envelope import AUDIENCES
from protocol.errors import LimitError, MalformedError, UnknownAudienceError
from protocol.keys import PUBLIC_KEY_BYTES

BUCKETS = 64
BUCKET_DIGEST_BYTES = 8
DIGEST_BYTES = 32
# The most vector entries one message may carry: far more feeds than any
# network will have, and small enough (about 50 bytes an entry) to bound memory.
MAX_ENTRIES = 100_000
# The most feed ranges one pull may ask for.
MAX_WANTS = 10_000

Feed = tuple[bytes, str]
Vector = Mapping[Feed, int]
_V = TypeVar("_V")  # a vector entry: a seq (version 1) or a seq and digest (version 2)


def bucket_of(origin: bytes) -> int:
    return origin[0] % BUCKETS


def _entry_bytes(origin: bytes, audience: str, seq: int) -> bytes:
    return origin + audience.encode() + b"\x00" + struct.pack(">Q", seq)


def vector_digest(vector: Vector) -> bytes:
    """SHA-256 over the sorted entries; equal vectors, and only they, have equal digests."""
    digest = hashlib.sha256(b"banscan/1 vector\x00")
    for (origin, audience), seq in sorted(vector.items()):
        digest.update(_entry_bytes(origin, audience, seq))
    return digest.digest()


def bucket_digests(vector: Vector) -> list[bytes]:
    """One short digest per bucket, over that bucket's sorted entries."""
    hashes = [hashlib.sha256(b"banscan/1 bucket\x00") for _ in range(BUCKETS)]
    for (origin, audience), seq in sorted(vector.items()):
        hashes[bucket_of(origin)].update(_entry_bytes(origin, audience, seq))
    return [h.digest()[:BUCKET_DIGEST_BYTES] for h in hashes]


def in_buckets(vector: Mapping[Feed, _V], buckets: Collection[int]) -> dict[Feed, _V]:
    return {feed: seq for feed, seq in vector.items() if bucket_of(feed[0]) in buckets}


def restrict(vector: Mapping[Feed, _V], audiences: Collection[str]) -> dict[Feed, _V]:
    return {feed: seq for feed, seq in vector.items() if feed[1] in audiences}


@dataclass(frozen=True, slots=True)
class Want:
    """The records ``after < seq <= upto`` of one feed."""

    origin: bytes
    audience: str
    after: int
    upto: int


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Step 1: the audiences to compare and the digest of the asker's vector over them."""

    audiences: tuple[str, ...]
    digest: bytes


@dataclass(frozen=True, slots=True)
class SyncAnswer:
    """Step 1's answer: in sync, or the audiences actually shared and per-bucket digests."""

    audiences: tuple[str, ...]
    in_sync: bool
    buckets: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class EntriesRequest:
    """Step 2: the asker's entries in the buckets that differ; the answer is the other's."""

    audiences: tuple[str, ...]
    buckets: tuple[int, ...]
    entries: dict[Feed, int]


@dataclass(frozen=True, slots=True)
class EntriesAnswer:
    entries: dict[Feed, int]


@dataclass(frozen=True, slots=True)
class PullRequest:
    """Ranges of feeds to send, in order, at most ``max_records`` in the answer's batch."""

    wants: tuple[Want, ...]
    max_records: int


def pack(value: dict[str, Any]) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _entries_wire(entries: Mapping[Feed, int]) -> list[list[Any]]:
    return [[origin, audience, seq] for (origin, audience), seq in sorted(entries.items())]


def encode_sync_request(message: SyncRequest) -> bytes:
    return pack({"step": "digest", "audiences": list(message.audiences), "digest": message.digest})


def encode_entries_request(message: EntriesRequest) -> bytes:
    return pack(
        {
            "step": "entries",
            "audiences": list(message.audiences),
            "buckets": list(message.buckets),
            "entries": _entries_wire(message.entries),
        }
    )


def encode_sync_answer(message: SyncAnswer) -> bytes:
    value: dict[str, Any] = {"audiences": list(message.audiences), "in_sync": message.in_sync}
    if not message.in_sync:
        value["buckets"] = list(message.buckets)
    return pack(value)


def encode_entries_answer(message: EntriesAnswer) -> bytes:
    return pack({"entries": _entries_wire(message.entries)})


def encode_pull_request(message: PullRequest) -> bytes:
    return pack(
        {
            "wants": [[w.origin, w.audience, w.after, w.upto] for w in message.wants],
            "max_records": message.max_records,
        }
    )


def decode_sync_step(data: bytes) -> SyncRequest | EntriesRequest:
    """A request to ``/federation/v1/sync``: step ``digest`` or step ``entries``."""
    value = parse_map(data, "sync request")
    step = value.get("step")
    audiences = parse_audiences(value.get("audiences"))
    if step == "digest":
        require_keys(value, {"step", "audiences", "digest"}, "sync request")
        return SyncRequest(audiences, parse_digest(value.get("digest"), DIGEST_BYTES, "digest"))
    if step == "entries":
        require_keys(value, {"step", "audiences", "buckets", "entries"}, "sync request")
        return EntriesRequest(audiences, parse_bucket_list(value.get("buckets")), _entries(value))
    raise MalformedError('a sync request\'s step must be "digest" or "entries"')


def decode_sync_answer(data: bytes) -> SyncAnswer:
    value = parse_map(data, "sync answer")
    audiences = parse_audiences(value.get("audiences"))
    in_sync = value.get("in_sync")
    if type(in_sync) is not bool:
        raise MalformedError("in_sync must be a boolean")
    if in_sync:
        require_keys(value, {"audiences", "in_sync"}, "sync answer")
        return SyncAnswer(audiences, True)
    require_keys(value, {"audiences", "in_sync", "buckets"}, "sync answer")
    buckets = value.get("buckets")
    if not isinstance(buckets, list) or len(buckets) != BUCKETS:
        raise MalformedError(f"buckets must be a list of {BUCKETS} digests")
    return SyncAnswer(
        audiences,
        False,
        tuple(parse_digest(b, BUCKET_DIGEST_BYTES, "bucket digest") for b in buckets),
    )


def decode_entries_answer(data: bytes) -> EntriesAnswer:
    value = parse_map(data, "entries answer")
    require_keys(value, {"entries"}, "entries answer")
    return EntriesAnswer(_entries(value))


def decode_pull_request(data: bytes, max_records: int) -> PullRequest:
    value = parse_map(data, "pull request")
    require_keys(value, {"wants", "max_records"}, "pull request")
    wants = value.get("wants")
    if not isinstance(wants, list):
        raise MalformedError("wants must be a list of [origin, audience, after, upto]")
    if len(wants) > MAX_WANTS:
        raise LimitError(f"a pull asks for {len(wants)} ranges; the limit is {MAX_WANTS}")
    parsed = []
    for index, want in enumerate(wants):
        if not isinstance(want, list) or len(want) != 4:
            raise MalformedError(f"want {index} must be [origin, audience, after, upto]")
        origin, audience, after, upto = want
        parse_origin(origin, f"want {index}")
        parse_audience(audience)
        if type(after) is not int or type(upto) is not int or not 0 <= after < upto:
            raise MalformedError(
                f"want {index}: after and upto must be integers, 0 <= after < upto"
            )
        parsed.append(Want(origin, audience, after, upto))
    limit = value.get("max_records")
    if type(limit) is not int or limit < 1:
        raise MalformedError("max_records must be a positive integer")
    return PullRequest(tuple(parsed), min(limit, max_records))


def parse_map(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_bin_len=len(data),
            max_str_len=len(data),
            max_array_len=max(MAX_ENTRIES, BUCKETS),
            max_map_len=16,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise MalformedError(f"the {what} is not valid msgpack") from exc
    if not isinstance(value, dict):
        raise MalformedError(f"the {what} must be a msgpack map")
    return value


def parse_bucket_list(buckets: Any) -> tuple[int, ...]:
    if not isinstance(buckets, list) or not all(
        type(b) is int and 0 <= b < BUCKETS for b in buckets
    ):
        raise MalformedError(f"buckets must be a list of integers 0 to {BUCKETS - 1}")
    return tuple(sorted(set(buckets)))


def require_keys(value: Mapping[str, Any], expected: set[str], what: str) -> None:
    if unknown := set(value) - expected:
        raise MalformedError(
            f"the {what} has unknown fields: {', '.join(sorted(map(str, unknown)))}"
        )
    if missing := expected - set(value):
        raise MalformedError(f"the {what} lacks {', '.join(sorted(missing))}")


def parse_audiences(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise MalformedError("audiences must be a non-empty list")
    return tuple(sorted({parse_audience(a) for a in value}, key=AUDIENCES.index))


def parse_audience(value: Any) -> str:
    if value not in AUDIENCES:
        raise UnknownAudienceError(
            f"audience {str(value)[:40]!r} is not one of {', '.join(AUDIENCES)}"
        )
    return str(value)


def parse_origin(value: Any, where: str) -> bytes:
    if type(value) is not bytes or len(value) != PUBLIC_KEY_BYTES:
        raise MalformedError(f"{where}: an origin is {PUBLIC_KEY_BYTES} bytes of bin")
    return value


def parse_digest(value: Any, size: int, what: str) -> bytes:
    if type(value) is not bytes or len(value) != size:
        raise MalformedError(f"a {what} is {size} bytes of bin")
    return value


def _entries(value: Mapping[str, Any]) -> dict[Feed, int]:
    entries = value.get("entries")
    if not isinstance(entries, list):
        raise MalformedError("entries must be a list of [origin, audience, seq]")
    if len(entries) > MAX_ENTRIES:
        raise LimitError(f"{len(entries)} vector entries; the limit is {MAX_ENTRIES}")
    parsed: dict[Feed, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, list) or len(entry) != 3:
            raise MalformedError(f"entry {index} must be [origin, audience, seq]")
        origin, audience, seq = entry
        feed = (parse_origin(origin, f"entry {index}"), parse_audience(audience))
        if type(seq) is not int or seq < 1:
            raise MalformedError(f"entry {index}: seq must be a positive integer")
        if feed in parsed:
            raise MalformedError(f"entry {index} repeats a feed")
        parsed[feed] = seq
    return parsed


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the receiver made of one pushed record: its outcome and, if refused, why."""

    id: bytes
    outcome: str
    code: str | None


def encode_push_answer(results: Sequence[PushResult]) -> bytes:
    return msgpack.packb([[r.id, r.outcome, r.code] for r in results], use_bin_type=True)


def decode_push_answer(data: bytes) -> list[PushResult]:
    try:
        value = msgpack.unpackb(data, raw=False, max_ext_len=0, max_map_len=0)
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise MalformedError("the push answer is not valid msgpack") from exc
    if not isinstance(value, list):
        raise MalformedError("the push answer must be a list of [id, outcome, code]")
    results = []
    for index, item in enumerate(value):
        if (
            not isinstance(item, list)
            or len(item) != 3
            or type(item[0]) is not bytes
            or type(item[1]) is not str
            or not (item[2] is None or type(item[2]) is str)
        ):
            raise MalformedError(f"push result {index} must be [id, outcome, code|nil]")
        results.append(PushResult(item[0], item[1], item[2]))
    return results
