"""Records for the site's page tests, published on a real in-process node."""

from typing import Any, cast

from aiohttp.test_utils import BaseTestServer, TestServer

from tests.factories import deployment_body, incident_body
from tests.nodeapp import put

ARCHIVED = "https://archive.example.org/web/2025/https://news.example.com/vans"
SOURCE_HASH = "ab" * 32

CAMERA: dict[str, Any] = deployment_body(
    osm={"man_made": "surveillance", "surveillance:type": "camera", "operator": "City Police"},
    frt_capability={"status": "confirmed", "basis": ["procurement_record", "visual"]},
    observed_on={"date": "2025-06-01", "precision": "month"},
    observers=3,
    status="corroborated",
    sources=[
        {"url": "https://news.example.com/vans", "archived_url": ARCHIVED, "sha256": SOURCE_HASH}
    ],
)
INCIDENT: dict[str, Any] = incident_body(
    summary="Officers stopped a woman after a live facial recognition van flagged her.\n\n"
    "She was released after an hour.",
    agency={"name": "City Police", "identifier": "CP-1"},
    technology={"type": "live_frt", "detail": "van-mounted cameras"},
    tags=["march"],
    sources=[{"url": "https://news.example.com/stop"}],
)
CHAPTER = {"urls": ["https://chapter.example.org"], "name": "Ban the Scan Testville"}


async def publish(
    server: BaseTestServer, kind: str, body: dict[str, Any], audience: str = "public"
) -> str:
    """Publish ``body`` as the node's own record; its id in hex."""
    return (await put(cast(TestServer, server), audience, kind, body)).hex()
