"""How the query benchmark times things: GET requests over one keep-alive connection,
the streamed CSV export, and the SQL lower bounds run with the ``sqlite3`` module on the
node's database file; with the SQL itself and the database's size per table.
"""

import http.client
import json
import math
import sqlite3
import statistics
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per repetition (after warm-up), and what the answer held."""

    seconds: list[float]
    items: int | None = None
    error: str | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        return self.percentile_ms(95)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    def percentile_ms(self, q: int) -> float:
        """The nearest-rank percentile ``q``, in milliseconds."""
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)] * 1000


def count_items(answer: Any) -> int | None:
    """The length of the first list in a JSON answer (the groups or the page's items)."""
    if isinstance(answer, list):
        return len(answer)
    if isinstance(answer, dict):
        for key in ("groups", "rows", "items", "records", "data", "results", "chapters"):
            if isinstance(answer.get(key), list):
                return len(answer[key])
        for value in answer.values():
            if isinstance(value, list):
                return len(value)
    return None


class Client:
    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise RuntimeError(f"the node serves {url}, not on 127.0.0.1")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def route_error(status: int, answer: bytes) -> str:
    if status == 404:
        return "not measured: route missing"
    return f"not measured: HTTP {status} {answer[:300].decode(errors='replace')}"


def time_get(client: Client, path: str, warmup: int, repeat: int) -> Timing:
    items = None
    for _ in range(warmup):
        status, answer = client.get(path)
        if status != 200:
            return Timing([], error=route_error(status, answer))
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        status, answer = client.get(path)
        seconds.append(time.perf_counter() - began)
        if status != 200:
            return Timing([], error=route_error(status, answer))
        items = count_items(json.loads(answer))
    return Timing(seconds, items)


@dataclass(frozen=True, slots=True)
class Export:
    rows: int
    seconds: float
    bytes: int
    error: str | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def time_export(client: Client, path: str) -> Export:
    """Stream the CSV export and count its data rows (the header and the HXL row excluded).

    Generated summaries and names hold no newlines, so lines are rows."""
    began = time.perf_counter()
    client.conn.request("GET", path, headers=client.headers)
    response = client.conn.getresponse()
    if response.status != 200:
        return Export(0, 0, 0, route_error(response.status, response.read()))
    lines = size = 0
    while chunk := response.read(1 << 16):
        lines += chunk.count(b"\n")
        size += len(chunk)
    return Export(max(0, lines - 2), time.perf_counter() - began, size)


def time_sql(db: Path, sql: str, params: Sequence[Any], warmup: int, repeat: int) -> Timing:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows: list[Any] = []
        for _ in range(warmup):
            rows = conn.execute(sql, params).fetchall()
        seconds = []
        for _ in range(repeat):
            began = time.perf_counter()
            rows = conn.execute(sql, params).fetchall()
            seconds.append(time.perf_counter() - began)
        return Timing(seconds, len(rows))
    finally:
        conn.close()


def time_sql_stream(db: Path, sql: str) -> Export:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        began = time.perf_counter()
        rows = size = 0
        for row in conn.execute(sql):
            rows += 1
            size += len(row[3] or b"")
        return Export(rows, time.perf_counter() - began, size)
    finally:
        conn.close()


# The conditions storage/queries.py puts on every read (current records, all audiences for
# an analyst), and its default order (newest created first), written out by hand.
VISIBLE = (
    "r.kind = 'incident' AND r.superseded_by IS NULL AND r.retracted_by IS NULL "
    "AND r.erased_ms IS NULL AND r.audience IN ('public', 'network', 'coordinators')"
)
STATS_SQL = (
    "SELECT r.country, r.category, substr(r.occurred_on, 1, 7), COUNT(*), "
    "COUNT(DISTINCT r.origin), MIN(r.occurred_on), MAX(r.occurred_on) FROM records r "
    f"WHERE {VISIBLE} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)
PAGE_COLUMNS = (
    "r.rid, r.envelope, r.signature, b.body, r.created_ms, r.country, r.region, r.city, "
    "r.category, r.technology, r.agency, r.status, r.occurred_on, r.area, r.lat_e7, r.lon_e7"
)
PAGE_SQL = (
    f"SELECT {PAGE_COLUMNS} FROM records r LEFT JOIN bodies b ON b.rid = r.rid "
    f"WHERE {VISIBLE} AND r.country = ? AND r.category = ? AND r.occurred_on >= ? "
    "ORDER BY r.created_ms DESC, r.rid DESC LIMIT 100"
)
FTS_SQL = (
    f"SELECT {PAGE_COLUMNS} FROM records r LEFT JOIN bodies b ON b.rid = r.rid "
    f"WHERE {VISIBLE} AND r.rid IN (SELECT rowid FROM summaries WHERE summaries MATCH ?) "
    "ORDER BY r.created_ms DESC, r.rid DESC LIMIT 100"
)
EXPORT_SQL = (
    f"SELECT {PAGE_COLUMNS} FROM records r LEFT JOIN bodies b ON b.rid = r.rid "
    f"WHERE {VISIBLE} ORDER BY r.created_ms, r.rid"
)
PAGE_FILTER = ("US", "protest_surveillance", "2023-01-01")


def db_breakdown(db: Path) -> list[tuple[str, int]]:
    """Bytes on disk per table and index, largest first (needs SQLite's dbstat table)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [(str(name), int(size)) for name, size in rows]


def apply_sql(db: Path, sql: str) -> float:
    """Run one statement on the database (the node is not running); its time in seconds."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        began = time.perf_counter()
        conn.execute(sql)
        return time.perf_counter() - began
    finally:
        conn.close()


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
