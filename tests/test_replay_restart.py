"""A federation request captured before a node restarts is still a replay after it
(docs/protocol.md section 15; issue 13, defect 5): real node processes, stopped with
SIGTERM and with kill -9, and the same request sent again."""

import asyncio
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp import ClientSession

from federation.httpsig import MessageSigner, SignedRequest, headers
from node.datadir import DataDir
from node.publishing import publish
from protocol.limits import DEFAULT_LIMITS
from protocol.sync import SyncRequest, encode_sync_request, vector_digest
from tests.conftest import node_store
from tests.factories import NETWORK, membership, seeded_key
from tests.nodeproc import NodeProcess
from tests.ports import free_port

CHAPTER = seeded_key("replay test: a chapter")
BODY = encode_sync_request(SyncRequest(("public",), vector_digest({})))


def capture(url: str) -> dict[str, str]:
    """The headers of a signed sync request from the chapter, as a wire tap sees them."""
    request = SignedRequest("POST", url, headers([("Content-Type", "application/msgpack")]))
    MessageSigner(CHAPTER, NETWORK, time.time).sign_request(request, BODY)
    return dict(request.headers)


async def send(url: str, sent: dict[str, str]) -> tuple[int, Any]:
    async with ClientSession() as session, session.post(url, data=BODY, headers=sent) as got:
        data = await got.read()
        if got.content_type == "application/problem+json":
            return got.status, await got.json(content_type=None)
        return got.status, msgpack.unpackb(data)  # a federation answer: msgpack, untyped


async def serving(directory: Path, port: int) -> tuple[NodeProcess, str]:
    process = NodeProcess(directory, port=port)
    base = await asyncio.to_thread(process.wait_serving)
    return process, base + "/federation/v1/sync"


@pytest.mark.slow
async def test_a_request_captured_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    directory = DataDir(tmp_path / "node")
    steward = directory.init(NETWORK, [])  # its own steward
    async with node_store(directory.path) as store:
        await publish(
            store.records,
            steward,
            network_id=NETWORK,
            limits=DEFAULT_LIMITS,
            kind="membership",
            audience="public",
            body=membership(CHAPTER.public_key),
            clock=store.clock,
        )
    port = free_port()  # the same URL across restarts: it is part of what is signed
    processes: list[NodeProcess] = []
    try:
        process, url = await serving(directory.path, port)
        processes.append(process)
        before_stop, before_kill = capture(url), capture(url)
        assert (await send(url, before_stop))[0] == 200
        assert (await send(url, before_stop))[1].get("type", "").endswith(":replay")
        assert await asyncio.to_thread(process.stop) == 0

        process, url = await serving(directory.path, port)
        processes.append(process)
        status, problem = await send(url, before_stop)
        assert (status, problem.get("type")) == (401, "urn:banscan:problem:replay")
        assert (await send(url, before_kill))[0] == 200
        await asyncio.to_thread(process.kill)  # kill -9: no chance to save anything

        process, url = await serving(directory.path, port)
        processes.append(process)
        for captured in (before_stop, before_kill):
            status, problem = await send(url, captured)
            assert (status, problem.get("type")) == (401, "urn:banscan:problem:replay")
        # Honest requests go on being served.
        assert (await send(url, capture(url)))[0] == 200
        assert await asyncio.to_thread(process.stop) == 0
    finally:
        for process in processes:
            process.close()
