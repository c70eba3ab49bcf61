"""Encoded answers to anonymous reads, kept as bytes, and HTTP validators over them.

An entry holds the exact bytes of one anonymous answer (keyed by the route's
path and query), the database version it was computed at, a strong ``ETag``
(a hash of the bytes, so it survives restarts) and a ``Last-Modified``: the
second this content was first seen. Recomputing an entry whose bytes did not
change keeps its ``Last-Modified``.

``Last-Modified`` has one-second precision, so two different answers computed
within one second would share it. Such an entry is marked *ambiguous* and is
never answered 304 from ``If-Modified-Since`` alone (``If-None-Match`` still
works), so a conditional request can never be told "not modified" wrongly.
"""

import datetime
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Answer:
    """One encoded anonymous answer and its validators."""

    body: bytes
    content_type: str
    version: int  # the data version it shows; NO_VERSION when part of it may be older
    computed_ms: int  # when the data it shows was read (at the latest)
    etag: str
    modified_s: int
    ambiguous: bool
    # Headers of the handler's answer that every copy carries (KEPT_HEADERS).
    headers: tuple[tuple[str, str], ...] = ()

    def last_modified(self) -> str:
        return http_date(self.modified_s)


# The version of an answer that shows data older than the version read before it was
# computed (a lagging part, see ``node.reads.AS_OF``): it is never current by version.
NO_VERSION = -1


def http_date(seconds: int) -> str:
    return format_datetime(datetime.datetime.fromtimestamp(seconds, datetime.UTC), usegmt=True)


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


# Whatever ``entries`` says, the cache holds at most this many bytes of answers, so
# queries that differ only in a cursor or a date cannot make it grow without bound.
MAX_BYTES = 64 << 20


class AnswerCache:
    """The most recently used answers, at most ``entries`` of them and :data:`MAX_BYTES`."""

    def __init__(self, entries: int, started_ms: int, max_bytes: int = MAX_BYTES) -> None:
        self._entries = entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._started_s = started_ms // 1000

    def confirm(self, key: str, answer: Answer, now_ms: int) -> Answer:
        """Keep ``answer`` as current at ``now_ms`` (its version was just found unchanged)."""
        confirmed = replace(answer, computed_ms=now_ms)
        if self._answers.get(key) is answer:
            self._answers[key] = confirmed
        return confirmed

    def get(self, key: str) -> Answer | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        version: int,
        now_ms: int,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Answer:
        """Keep a freshly computed answer; validators carried over when the bytes are equal."""
        etag = entity_tag(body)
        previous = self._answers.get(key)
        if previous is not None and previous.etag == etag:
            modified_s, ambiguous = previous.modified_s, previous.ambiguous
        else:
            modified_s = now_ms // 1000
            # Another answer (before this one, or before a restart) may share the second.
            ambiguous = modified_s == self._started_s or (
                previous is not None and previous.modified_s >= modified_s
            )
        answer = Answer(body, content_type, version, now_ms, etag, modified_s, ambiguous, headers)
        if previous is not None:
            del self._answers[key]
            self._bytes -= len(previous.body)
        if self._entries > 0 and len(body) <= self._max_bytes // 8:
            self._answers[key] = answer
            self._bytes += len(body)
            while len(self._answers) > self._entries or self._bytes > self._max_bytes:
                _, evicted = self._answers.popitem(last=False)
                self._bytes -= len(evicted.body)
        return answer

    @property
    def size_bytes(self) -> int:
        return self._bytes


def not_modified(request: web.Request, answer: Answer) -> bool:
    """Whether the request's conditions (RFC 9110 section 13) say the client's copy is current."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or answer.etag in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since is None or answer.ambiguous:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since.tzinfo is None:
        return False
    return answer.modified_s <= int(since.timestamp())
