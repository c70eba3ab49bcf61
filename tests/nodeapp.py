"""Publishing on a node app served in the test's own process (aiohttp's TestServer)."""

from typing import Any

from aiohttp.test_utils import TestServer

from node.publishing import publish
from node.state import FEDERATION, STORE
from tests.factories import NETWORK, incident_body


async def put(server: TestServer, audience: str, kind: str = "incident", body: Any = None) -> bytes:
    """Publish a record on ``server``'s node, as its own; the new record's id."""
    federation = server.app[FEDERATION]
    record = await publish(
        server.app[STORE].records,
        federation.key,
        network_id=NETWORK,
        limits=federation.settings.limits,
        kind=kind,
        audience=audience,
        body=body if body is not None else incident_body(),
        clock=server.app[STORE].clock,
    )
    return record.id
