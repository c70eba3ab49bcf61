"""The desk's requests (claims, notes, questions, duplicates, history) on a node, local or
remote, every answer in the HTTP API's JSON shape, as :mod:`.nodes` does for decisions.

Local: :class:`node.moderation.desk.Desk` over the node's database, as ``cli:<os user>``.
Remote: the routes of :mod:`node.api.desk`, as the token's label.
"""

from collections.abc import Sequence
from typing import Any, Protocol

from node.cli.common import CommandFailed
from node.cli.submissions.nodes import LocalNode, ModeratedNode, RemoteNode
from node.moderation.desk import Desk, audit_entry_view, item_view
from node.moderation.submissions import claim_view
from node.problems import ApiError


class DeskNode(Protocol):
    async def claim(self, submission_id: str, take_over: bool) -> dict[str, Any]: ...
    async def release(self, submission_id: str) -> dict[str, Any]: ...
    async def note(self, submission_id: str, sealed: str, key_ids: list[str]) -> dict[str, Any]: ...
    async def ask(self, submission_id: str, question: str) -> dict[str, Any]: ...
    async def duplicate(self, ids: Sequence[str], of: str) -> dict[str, Any]: ...
    async def history(self, submission_id: str) -> dict[str, Any]: ...
    async def moderator_keys(self) -> list[dict[str, Any]]: ...


def desk_of(node: ModeratedNode) -> DeskNode:
    if isinstance(node, LocalNode):
        return LocalDesk(node)
    assert isinstance(node, RemoteNode)
    return RemoteDesk(node)


class LocalDesk:
    def __init__(self, node: LocalNode) -> None:
        store = node.store
        self._store = store
        self._desk = Desk(store.submissions, store.desk, node.claim_minutes)
        self._actor = node.actor

    async def claim(self, submission_id: str, take_over: bool) -> dict[str, Any]:
        try:
            outcome = await self._desk.claim(submission_id, self._actor, take_over=take_over)
        except ApiError as exc:
            raise CommandFailed(exc.detail) from exc
        return {"claim": claim_view(outcome.claim), "taken_from": outcome.taken_from}

    async def release(self, submission_id: str) -> dict[str, Any]:
        try:
            return {"released": await self._desk.release(submission_id, self._actor)}
        except ApiError as exc:
            raise CommandFailed(exc.detail) from exc

    async def note(self, submission_id: str, sealed: str, key_ids: list[str]) -> dict[str, Any]:
        try:
            item = await self._desk.add_note(submission_id, self._actor, sealed, key_ids)
        except ApiError as exc:
            raise CommandFailed(exc.detail) from exc
        return {"note_id": item.id, "at_ms": item.at_ms}

    async def ask(self, submission_id: str, question: str) -> dict[str, Any]:
        try:
            question_id = await self._desk.ask(submission_id, self._actor, question)
        except ApiError as exc:
            raise CommandFailed(exc.detail) from exc
        return {"status": "needs_info", "question_id": question_id}

    async def duplicate(self, ids: Sequence[str], of: str) -> dict[str, Any]:
        try:
            marked, skipped = await self._desk.mark_duplicates(ids, of, self._actor)
        except ApiError as exc:
            raise CommandFailed(exc.detail) from exc
        return {"marked": marked, "skipped": skipped}

    async def history(self, submission_id: str) -> dict[str, Any]:
        try:
            entries, items, broken = await self._desk.history(submission_id, self._actor)
        except ApiError as exc:
            raise CommandFailed(exc.detail) from exc
        return {
            "submission": submission_id,
            "entries": [audit_entry_view(entry) for entry in entries],
            "items": [item_view(item) for item in items],
            "intact": broken is None,
            "first_broken_seq": broken,
        }

    async def moderator_keys(self) -> list[dict[str, Any]]:
        return [
            {"key_id": k.key_id, "public": k.public} for k in await self._store.submissions.keys()
        ]


class RemoteDesk:
    def __init__(self, node: RemoteNode) -> None:
        self._node = node

    @staticmethod
    def _one(submission_id: str, action: str) -> str:
        return f"/api/v1/submissions/{submission_id}/{action}"

    async def claim(self, submission_id: str, take_over: bool) -> dict[str, Any]:
        payload = {"take_over": True} if take_over else {}
        return await self._node.call("POST", self._one(submission_id, "claim"), payload=payload)

    async def release(self, submission_id: str) -> dict[str, Any]:
        return await self._node.call("POST", self._one(submission_id, "release"), payload={})

    async def note(self, submission_id: str, sealed: str, key_ids: list[str]) -> dict[str, Any]:
        payload = {"sealed": sealed, "key_ids": key_ids}
        return await self._node.call("POST", self._one(submission_id, "notes"), payload=payload)

    async def ask(self, submission_id: str, question: str) -> dict[str, Any]:
        payload = {"question": question}
        return await self._node.call("POST", self._one(submission_id, "ask"), payload=payload)

    async def duplicate(self, ids: Sequence[str], of: str) -> dict[str, Any]:
        payload = {"ids": list(ids), "of": of}
        return await self._node.call("POST", "/api/v1/submissions/duplicate", payload=payload)

    async def history(self, submission_id: str) -> dict[str, Any]:
        return await self._node.call("GET", self._one(submission_id, "history"))

    async def moderator_keys(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = (await self._node.call("GET", "/api/v1/moderators"))[
            "moderators"
        ]
        return keys
