"""One middleware times each request; the request log and the metrics observe it."""

from node.app import create_app
from node.datadir import DataDir
from node.logs import log_request
from node.metrics import METRICS
from node.timing import OBSERVERS, Timing, timing_middleware
from tests.conftest import ClientFactory


async def test_one_timing_is_seen_by_the_log_and_the_metrics(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    app = create_app(data_dir.load_config(), data_dir.load_key(), data_dir.database)
    assert list(app.middlewares).count(timing_middleware) == 1
    observers = app[OBSERVERS]
    assert observers[0] is log_request
    assert observers[1] == app[METRICS].observe
    seen: list[Timing] = []
    app[OBSERVERS] = (*observers, seen.append)
    client = await aiohttp_client(app)

    await client.get("/api/v1/records/" + "ab" * 32)
    await client.get("/no/such/route")

    found, unmatched = seen
    assert (found.method, found.route, found.status) == ("GET", "/api/v1/records/{id}", 404)
    assert (unmatched.route, unmatched.status) == ("(unmatched)", 404)
    assert found.duration_s >= 0
    labels = {"method": "GET", "route": "/api/v1/records/{id}", "status": "404"}
    assert app[METRICS].registry.get_sample_value("banscan_http_requests_total", labels) == 1
