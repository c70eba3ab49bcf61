"""The task owner: named tasks, one per name, crashes logged, all stopped at shutdown."""

import asyncio

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from federation.tasks import TaskNameTaken, TaskOwner
from node.state import FEDERATION, TASKS, after_start_sync
from tests.conftest import ClientFactory


async def forever(started: asyncio.Event | None = None) -> None:
    if started is not None:
        started.set()
    await asyncio.Event().wait()


async def test_a_finished_task_is_forgotten() -> None:
    owner = TaskOwner()
    done = asyncio.Event()

    async def job() -> None:
        done.set()

    task = owner.start("job", job())
    assert task is not None
    assert owner.running("job")
    await task
    await asyncio.sleep(0)  # the done callback runs on the next turn of the loop
    assert not owner.running("job")
    assert owner.names == []
    assert done.is_set()
    # The name is free again.
    again = owner.start("job", job())
    assert again is not None
    await owner.close()


async def test_a_name_runs_once_at_a_time() -> None:
    owner = TaskOwner()
    owner.start("loop", forever())
    with pytest.raises(TaskNameTaken):
        owner.start("loop", forever())  # closed unstarted: no "never awaited" warning
    assert owner.names == ["loop"]
    await owner.close()


async def test_cancel_stops_one_task() -> None:
    owner = TaskOwner()
    started = asyncio.Event()
    task = owner.start("a", forever(started))
    other = owner.start("b", forever())
    assert task is not None
    assert other is not None
    await started.wait()
    assert owner.cancel("a")
    assert not owner.cancel("missing")
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert owner.names == ["b"]
    assert not other.done()
    await owner.close()


async def test_a_crash_is_logged_and_forgotten() -> None:
    owner = TaskOwner()

    async def crash() -> None:
        raise ValueError("boom")

    with capture_logs() as logs:
        task = owner.start("crasher", crash())
        assert task is not None
        with pytest.raises(ValueError, match="boom"):
            await task
        await asyncio.sleep(0)
    assert not owner.running("crasher")
    crashed = [e for e in logs if e["event"] == "task crashed"]
    assert len(crashed) == 1
    assert crashed[0]["task"] == "crasher"
    assert crashed[0]["log_level"] == "error"
    assert isinstance(crashed[0]["exc_info"], ValueError)


async def test_close_cancels_and_awaits_every_task() -> None:
    owner = TaskOwner()
    cleaned = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            # Cleanup that itself waits: close must wait for it too.
            await asyncio.sleep(0.01)
            cleaned.set()

    tasks = [owner.start(f"loop-{i}", forever()) for i in range(3)]
    tasks.append(owner.start("slow", slow_to_stop()))
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await owner.close()
    assert cleaned.is_set()
    assert all(t is not None and t.cancelled() for t in tasks)
    assert owner.names == []
    # A cancelled task is no crash.
    assert not [e for e in logs if e["event"] == "task crashed"]
    pending = {t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    assert not pending & {"loop-0", "loop-1", "loop-2", "slow"}


async def test_nothing_starts_once_closed() -> None:
    owner = TaskOwner()
    await owner.close()
    with capture_logs() as logs:
        assert owner.start("late", forever()) is None  # closed unstarted, no warning
    assert owner.names == []
    assert [e["event"] for e in logs] == ["task not started: shutting down"]


async def test_a_task_started_while_closing_is_stopped_too() -> None:
    owner = TaskOwner()

    async def spawns_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            owner.start("child", forever())

    owner.start("parent", spawns_on_cancel())
    await asyncio.sleep(0)
    await owner.close()
    assert owner.names == []


async def test_a_node_stops_every_background_task_at_shutdown(
    aiohttp_client: ClientFactory, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    owner = app[TASKS]
    # The outlines, the map's tile encoder and incident groups and the compiled templates
    # are made once in the background at start; they may be done already.
    warming = {"warm-outlines", "warm-encoder", "warm-map", "warm-templates"}
    assert [name for name in owner.names if name not in warming] == [
        "federation-discovery",
        "federation-own-feeds",
        "federation-push",
        "federation-rounds",
        "retention",
    ]
    running = {t for t in asyncio.all_tasks() if t.get_name() in owner.names}
    # A warming task may have just finished, its name not yet let go of.
    assert {t.get_name() for t in running} >= set(owner.names) - warming

    await client.close()

    assert owner.names == []
    assert all(task.done() for task in running)
    # And nothing starts once the node is shut down.
    assert owner.start("late", forever()) is None


async def test_warming_waits_for_the_start_up_sync(
    aiohttp_client: ClientFactory, app: web.Application
) -> None:
    """What a node warms as it starts waits for its sync with its peers at start."""
    await aiohttp_client(app)
    synced = app[FEDERATION].gossip.synced_at_start
    await asyncio.wait_for(synced.wait(), 10)  # no peers: done at once
    done: list[str] = []

    async def work() -> str:
        done.append("warmed")
        return "warmed"

    synced.clear()  # as while a new node pulls its peers' records
    waiting = asyncio.create_task(after_start_sync(app, work))
    for _ in range(5):
        await asyncio.sleep(0)
    assert done == []
    synced.set()
    assert await asyncio.wait_for(waiting, 10) == "warmed"
