"""A node whose reports are sealed to a test moderator, and reports stored as the intake
stores them: what the moderation tests (tests/test_cli_submissions.py,
tests/test_moderation_newuser.py) start from."""

import asyncio
from pathlib import Path
from typing import Any

from node.datadir import DataDir
from node.moderation.submissions import SubmissionIn, accept
from protocol.sealing import ModeratorKey
from tests.conftest import node_store

ALICE = ModeratorKey.generate()


def new_node(path: Path) -> Path:
    """A data directory whose reports are sealed to ALICE."""
    DataDir(path).init("banthescan", [])

    async def add() -> None:
        async with node_store(path) as store:
            await store.submissions.add_key(
                ALICE.public.key_id, ALICE.public.text, "alice", actor="test"
            )

    asyncio.run(add())
    return path


def submit(node_dir: Path, *reports: dict[str, Any]) -> list[str]:
    """Store reports as the intake does; their submission ids, in order."""

    async def run() -> list[str]:
        async with node_store(node_dir) as store:
            return [
                (await accept(store.submissions, SubmissionIn.model_validate(r), store.clock))[0]
                for r in reports
            ]

    return asyncio.run(run())
