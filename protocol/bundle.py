"""Signed-record bundles: a file anyone can verify offline.

A bundle is a stream of msgpack values: a header map, one wire record
``[envelope, signature, body|nil]`` per record, and a trailer map. The trailer
carries the record count, so a truncated file is detected::

    {"bundle": "banscan-bundle/1", "network_id": str, "created_ms": int}
    [envelope, signature, body] ...
    {"end": count}

:class:`BundleReader` is fed bytes in chunks and yields records as they
complete, so bundles of any size are read in constant memory.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

from protocol.errors import MalformedError, ProtocolError
from protocol.limits import Limits
from protocol.records import SignedRecord, record_from_wire

BUNDLE_FORMAT = "banscan-bundle/1"


@dataclass(frozen=True, slots=True)
class BundleHeader:
    network_id: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class BadEntry:
    """A bundle entry that is not even a well-formed record."""

    index: int
    error: ProtocolError


def encode_header(network_id: str, created_ms: int) -> bytes:
    return msgpack.packb(
        {"bundle": BUNDLE_FORMAT, "network_id": network_id, "created_ms": created_ms},
        use_bin_type=True,
    )


def encode_trailer(count: int) -> bytes:
    return msgpack.packb({"end": count}, use_bin_type=True)


class BundleReader:
    """Incremental bundle parser: ``feed`` chunks, then ``finish``."""

    def __init__(self, limits: Limits) -> None:
        record_bytes = limits.max_envelope_bytes + limits.max_body_bytes + 128
        self._unpacker = msgpack.Unpacker(
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_buffer_size=max(record_bytes * 4, 1 << 20),
            max_bin_len=max(limits.max_body_bytes, limits.max_envelope_bytes),
            max_str_len=limits.max_body_bytes,
            max_array_len=3,
            max_map_len=8,
            max_ext_len=0,
        )
        # The unpacker's buffer is bounded, so a caller's chunk is fed in slices
        # of at most one entry: chunks of any size then read the same.
        self._slice = record_bytes
        self.header: BundleHeader | None = None
        self.count = 0
        self._ended = False

    def feed(self, chunk: bytes) -> Iterator[SignedRecord | BadEntry]:
        for start in range(0, len(chunk), self._slice):
            try:
                self._unpacker.feed(chunk[start : start + self._slice])
            except Exception as exc:  # msgpack raises many unrelated types on bad input
                raise MalformedError("bundle entry is larger than the limits allow") from exc
            while True:
                try:
                    value = self._unpacker.unpack()
                except msgpack.OutOfData:
                    break
                except Exception as exc:  # msgpack raises many unrelated types on bad input
                    raise MalformedError(f"bundle is corrupt after {self.count} records") from exc
                yield from self._take(value)

    def finish(self) -> None:
        """Raise unless the bundle ended with a trailer that matches its count."""
        if not self._ended:
            raise MalformedError(f"bundle is truncated: no trailer after {self.count} records")

    def _take(self, value: Any) -> Iterator[SignedRecord | BadEntry]:
        if self._ended:
            raise MalformedError("bundle has data after its trailer")
        if self.header is None:
            self.header = _parse_header(value)
            return
        if isinstance(value, dict):
            end = value.get("end")
            if type(end) is not int or end != self.count or len(value) != 1:
                raise MalformedError(
                    f"bundle trailer says {end!r} records, but it holds {self.count}"
                )
            self._ended = True
            return
        index = self.count
        self.count += 1
        try:
            yield record_from_wire(value)
        except ProtocolError as exc:
            yield BadEntry(index, exc)


def _parse_header(value: Any) -> BundleHeader:
    if (
        not isinstance(value, dict)
        or value.get("bundle") != BUNDLE_FORMAT
        or type(value.get("network_id")) is not str
        or type(value.get("created_ms")) is not int
    ):
        raise MalformedError(f"not a {BUNDLE_FORMAT} file: the header is missing or wrong")
    return BundleHeader(value["network_id"], value["created_ms"])
