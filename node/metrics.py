"""Prometheus metrics at ``/metrics`` (text exposition format).

Each app has its own registry, so several nodes in one process (tests) do
not mix their figures. Request counts and latencies are counted as requests
finish; figures that live in the database or in the sync scheduler are read
when Prometheus scrapes:

| metric | type | labels |
|---|---|---|
| ``banscan_http_requests_total`` | counter | method, route, status |
| ``banscan_http_request_duration_seconds`` | histogram | method, route |
| ``banscan_requests_aborted_total`` | counter | reason |
| ``banscan_records`` | gauge | kind, audience |
| ``banscan_quarantine_records`` / ``banscan_quarantine_bytes`` | gauge | |
| ``banscan_peers`` | gauge | state (ok, failing, backed_off) |
| ``banscan_submissions`` | gauge | status (pending = waiting for review) |
| ``banscan_sync_sessions_total`` | counter | peer |
| ``banscan_sync_failures_total`` | counter | peer |
| ``banscan_sync_pushes_total`` | counter | peer |
| ``banscan_sync_bytes_sent_total`` / ``..._received_total`` | counter | peer |
| ``banscan_sync_records_pulled_total`` / ``..._pushed_total`` | counter | peer |
| ``banscan_peer_behind_records`` | gauge | peer |

A request is aborted when its client goes away before it is answered
(``client-gone``), or when the node cuts a slow client off (``header-timeout``,
``body-timeout``, ``too-many-connections``; :mod:`node.connections`). Only the
reason is counted: not the route, nor when.

Routes are labelled by their template (``/api/v1/records/{id}``), never by
the path asked for, and nothing about the client is recorded. No
``*_created`` series are exported: the first report's counter would carry the
moment it arrived, to the microsecond.

Counters still tell when reports arrived to within a scrape, so ``/metrics``
answers only a caller on the node's own host (a direct connection from a
loopback address, not one relayed by the proxy) or one with a token. A caller
that sends a token must send a valid one, from this host too.
"""

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from node.auth import require_role
from node.state import FEDERATION, STORE
from node.timing import Timing
from protocol.keys import key_text
from storage.quarantine import quarantine_totals
from storage.tokens import Role

routes = web.RouteTableDef()
disable_created_metrics()  # type: ignore[no-untyped-call]
_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_RELAYED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

ABORT_REASONS = ("client-gone", "header-timeout", "body-timeout", "too-many-connections")
# Seconds: most API answers take milliseconds; exports and imports take longer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "banscan_http_requests",
            "HTTP requests answered, by route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "banscan_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.aborted = Counter(
            "banscan_requests_aborted",
            "Requests not answered whole: the client went away or was cut off for being slow.",
            ("reason",),
            registry=self.registry,
        )
        for reason in ABORT_REASONS:
            self.aborted.labels(reason)
        self.records = Gauge(
            "banscan_records",
            "Records held, by kind and audience.",
            ("kind", "audience"),
            registry=self.registry,
        )
        self.quarantine_records = Gauge(
            "banscan_quarantine_records",
            "Records held in quarantine until their origin is admitted.",
            registry=self.registry,
        )
        self.quarantine_bytes = Gauge(
            "banscan_quarantine_bytes",
            "Bytes held in quarantine (bounded by [federation] quarantine_max_bytes).",
            registry=self.registry,
        )
        self.peers = Gauge(
            "banscan_peers",
            "Known peers: ok (last session succeeded), failing, backed_off (waiting to retry).",
            ("state",),
            registry=self.registry,
        )
        self.peer_lag = Gauge(
            "banscan_peer_behind_records",
            "Records a peer advertised at its last session that this node does not hold.",
            ("peer",),
            registry=self.registry,
        )
        self.submissions = Gauge(
            "banscan_submissions",
            "Reports from the public by status; pending ones wait for review.",
            ("status",),
            registry=self.registry,
        )
        self.sync = _SyncCollector()
        self.registry.register(self.sync)

    def observe(self, timing: Timing) -> None:
        """Count one answered request (an observer of :mod:`node.timing`)."""
        if timing.status is None:
            self.aborted.labels("client-gone").inc()
            return
        self.requests.labels(timing.method, timing.route, str(timing.status)).inc()
        self.latency.labels(timing.method, timing.route).observe(timing.duration_s)

    async def refresh(self, app: web.Application) -> None:
        """Read the figures that live in the database and the scheduler."""
        store = app[STORE]
        self.records.clear()
        for kind, audience, count in await store.records.counts():
            self.records.labels(kind, audience).set(count)
        count, size = await quarantine_totals(store.db.reader)
        self.quarantine_records.set(count)
        self.quarantine_bytes.set(size)
        now = store.clock()
        states = {"ok": 0, "failing": 0, "backed_off": 0}
        self.peer_lag.clear()
        for peer in await store.peers.all():
            if peer.backoff_until_ms is not None and peer.backoff_until_ms > now:
                states["backed_off"] += 1
            elif peer.failures:
                states["failing"] += 1
            else:
                states["ok"] += 1
            lags = await store.peers.behind(peer.key)
            self.peer_lag.labels(key_text(peer.key)).set(sum(lag.theirs - lag.ours for lag in lags))
        for state, value in states.items():
            self.peers.labels(state).set(value)
        for status, count in (await store.submissions.counts()).items():
            self.submissions.labels(status).set(count)
        self.sync.stats = dict(app[FEDERATION].gossip.stats)


class _SyncCollector(Collector):
    """Per-peer sync counters, kept by the scheduler since the node started."""

    FIELDS = (
        ("sessions", "banscan_sync_sessions", "Sync sessions completed with the peer."),
        ("failures", "banscan_sync_failures", "Failed sessions and pushes with the peer."),
        ("pushes", "banscan_sync_pushes", "Eager pushes sent to the peer."),
        ("bytes_sent", "banscan_sync_bytes_sent", "Message bytes sent to the peer in sessions."),
        (
            "bytes_received",
            "banscan_sync_bytes_received",
            "Message bytes received from the peer in sessions.",
        ),
        ("records_pulled", "banscan_sync_records_pulled", "Records pulled from the peer."),
        ("records_pushed", "banscan_sync_records_pushed", "Records pushed to the peer."),
    )

    def __init__(self) -> None:
        self.stats: dict[bytes, object] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        for attribute, name, help_text in self.FIELDS:
            family = CounterMetricFamily(name, help_text, labels=("peer",))
            for peer, stats in sorted(self.stats.items()):
                family.add_metric([key_text(peer)], getattr(stats, attribute))
            yield family


METRICS = web.AppKey("metrics", Metrics)


def _from_this_host(request: web.Request) -> bool:
    """A direct connection from a loopback address; through the proxy, the proxy adds
    X-Forwarded-For (deploy/), so a relayed request never passes for a local one."""
    return request.remote in _LOOPBACK and not any(name in request.headers for name in _RELAYED)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    # A token sent from this host is checked like any other: an invalid one is refused.
    if not _from_this_host(request) or "Authorization" in request.headers:
        await require_role(request, frozenset(Role))
    registry = request.app[METRICS]
    await registry.refresh(request.app)
    response = web.Response(body=generate_latest(registry.registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
