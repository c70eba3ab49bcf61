"""The node a moderator works on: its database here (local) or its HTTP API (remote).

Both answer in the API's JSON shapes (:mod:`node.api.submissions`), so each
``banscan submissions`` command is written once, against :class:`ModeratedNode`;
:func:`with_node` opens the one the options name.
"""

import argparse
import asyncio
import json
import os
import urllib.parse
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final, Protocol, TypeVar

import aiohttp

from node.cli.common import CommandError, CommandFailed, cli_actor, data_dir_of, open_store
from node.datadir import DataDir
from node.moderation.desk import audit_entry_view
from node.moderation.service import Moderation, record_publisher
from node.moderation.submissions import SubmissionError, submission_view
from protocol.envelope import AUDIENCES
from protocol.errors import ProtocolError
from storage.queue import QueueFilter, queue_page
from storage.store import Store

TOKEN_ENV: Final = "BANSCAN_TOKEN"  # noqa: S105 (the name of a variable, not a token)
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})
_PAGE: Final = 500
PUBLIC: Final = "public"  # deployments: cameras in public space
_AUDIT_PAGE: Final = 1000
_HTTP_TIMEOUT_S: Final = 60
T = TypeVar("T")


class ModeratedNode(Protocol):
    """A node's moderation, local or remote; every answer in the HTTP API's JSON shape."""

    async def submissions(
        self, status: str | None, kind: str | None, limit: int
    ) -> dict[str, Any]: ...
    async def get(self, submission_id: str) -> dict[str, Any]: ...
    async def record_audience(self, record_id: str) -> str | None: ...
    async def default_audience(self, kind: str) -> str: ...
    async def publish(
        self, submission_id: str, audience: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...
    async def reject(self, submission_ids: Sequence[str], reason: str) -> dict[str, Any]: ...
    async def retract(self, submission_id: str, reason: str) -> dict[str, Any]: ...
    async def purge(self, retention_days: int | None) -> dict[str, Any]: ...
    async def audit(self) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class LocalNode:
    """The node's own database, opened directly; decisions are logged as ``cli:<os user>``."""

    def __init__(self, store: Store, moderation: Moderation, retention_days: int) -> None:
        self._store = store
        self._moderation = moderation
        self._retention_days = retention_days
        self._actor = cli_actor()
        self.claim_minutes = 30
        self.incident_audience = "network"

    @classmethod
    async def open(cls, data_dir: DataDir) -> "LocalNode":
        store = await open_store(data_dir)
        config = data_dir.load_config()
        publisher = record_publisher(
            store.records,
            data_dir.load_key(),
            network_id=config.network.id,
            limits=config.limits.limits(),
            clock=store.clock,
        )
        moderation = Moderation(store.submissions, store.records, publisher, claims=store.desk)
        node = cls(store, moderation, config.submissions.retention_days)
        node.claim_minutes = config.moderation.claim_minutes
        node.incident_audience = config.moderation.incident_audience
        return node

    @property
    def store(self) -> Store:
        return self._store

    @property
    def actor(self) -> str:
        return self._actor

    async def submissions(self, status: str | None, kind: str | None, limit: int) -> dict[str, Any]:
        page = await queue_page(self._store.db, QueueFilter(status=status, kind=kind), limit=limit)
        claims = await self._store.desk.live_claims([s.id for _, s in page])
        return {
            "submissions": [
                submission_view(s, with_sealed=False, claim=claims.get(s.id)) for _, s in page
            ],
            "counts": await self._store.submissions.counts(),
        }

    async def get(self, submission_id: str) -> dict[str, Any]:
        try:
            submission = await self._moderation.fetch_sealed(submission_id, actor=cli_actor())
            return submission_view(submission, with_sealed=True)
        except SubmissionError as exc:
            raise CommandFailed(exc.detail) from exc

    async def record_audience(self, record_id: str) -> str | None:
        """The audience of a record this node holds (one published from a submission)."""
        record = await self._store.records.get(bytes.fromhex(record_id))
        return None if record is None else record.envelope.audience

    async def default_audience(self, kind: str) -> str:
        """A first publication's audience when none is given ([moderation] incident_audience)."""
        return self.incident_audience if kind == "incident" else PUBLIC

    async def publish(
        self, submission_id: str, audience: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            record = await self._moderation.publish(
                submission_id, audience, body, actor=self._actor
            )
        except SubmissionError as exc:
            raise CommandFailed(exc.detail) from exc
        except ProtocolError as exc:  # the body is not a valid record
            raise CommandFailed(exc.detail) from exc
        return {"record_id": record.id.hex(), "audience": record.envelope.audience}

    async def reject(self, submission_ids: Sequence[str], reason: str) -> dict[str, Any]:
        try:
            rejected, skipped = await self._moderation.reject(
                submission_ids, reason, actor=self._actor
            )
        except SubmissionError as exc:
            raise CommandFailed(exc.detail) from exc
        return {"rejected": rejected, "skipped": skipped}

    async def retract(self, submission_id: str, reason: str) -> dict[str, Any]:
        try:
            retractions = await self._moderation.retract(submission_id, reason, actor=self._actor)
        except SubmissionError as exc:
            raise CommandFailed(exc.detail) from exc
        except ProtocolError as exc:
            raise CommandFailed(exc.detail) from exc
        return {"record_ids": [r.id.hex() for r in retractions]}

    async def purge(self, retention_days: int | None) -> dict[str, Any]:
        days = self._retention_days if retention_days is None else retention_days
        purged = await self._moderation.purge(self._store.clock(), days, actor=self._actor)
        return {"purged": purged}

    async def audit(self) -> dict[str, Any]:
        submissions = self._store.submissions
        entries: list[dict[str, Any]] = []
        while True:
            after = entries[-1]["seq"] if entries else 0
            page = await submissions.audit_log(after=after, limit=_AUDIT_PAGE)
            entries.extend(audit_entry_view(entry) for entry in page)
            if len(page) < _AUDIT_PAGE:
                break
        broken = await submissions.verify_audit_log()
        return {"entries": entries, "intact": broken is None, "first_broken_seq": broken}

    async def close(self) -> None:
        await self._store.close()


class RemoteNode:
    """A running node's moderators' API, with a moderator (or admin) token."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self._url = url
        self._session = session

    @classmethod
    async def open(cls, url: str, token: str) -> "RemoteNode":
        session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=_HTTP_TIMEOUT_S),
        )
        return cls(url.rstrip("/"), session)

    async def call(
        self,
        method: str,
        path: str,
        *,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            async with self._session.request(
                method, self._url + path, json=payload, params=params
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CommandError(f"cannot reach {self._url}: {exc or type(exc).__name__}") from exc
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if status >= 400:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            message = f"{detail or text[:200] or 'no detail'} (HTTP {status})"
            if status in (401, 403):
                raise CommandError(f"{message}; give a moderator token")
            raise CommandFailed(message)
        if not isinstance(answer, dict):
            raise CommandError(f"{self._url}{path} did not answer a JSON object")
        return answer

    async def submissions(self, status: str | None, kind: str | None, limit: int) -> dict[str, Any]:
        params = {"status": status, "kind": kind}
        query = {name: value for name, value in params.items() if value is not None}
        items: list[dict[str, Any]] = []
        while True:
            query["limit"] = str(min(_PAGE, limit - len(items)))
            answer = await self.call("GET", "/api/v1/submissions", params=query)
            items.extend(answer["submissions"])
            if answer.get("next_cursor") is None or len(items) >= limit:
                return {"submissions": items, "counts": answer["counts"]}
            query["cursor"] = str(answer["next_cursor"])

    async def get(self, submission_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/api/v1/submissions/{submission_id}")

    async def record_audience(self, record_id: str) -> str | None:
        """The audience of a record the node holds; a moderator token reads them all."""
        try:
            answer = await self.call("GET", f"/api/v1/records/{record_id}")
        except CommandFailed:
            return None
        audience = answer.get("audience")
        return audience if isinstance(audience, str) else None

    async def default_audience(self, kind: str) -> str:
        """A first publication's audience when none is given, as the node says (its
        moderators answer); ``network`` from a node too old to say."""
        answer = await self.call("GET", "/api/v1/moderators")
        audience = answer.get("default_audience", {}).get(kind)
        return audience if audience in AUDIENCES else "network"

    async def publish(
        self, submission_id: str, audience: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.call(
            "POST",
            f"/api/v1/submissions/{submission_id}/publish",
            payload={"audience": audience, "body": body},
        )

    async def reject(self, submission_ids: Sequence[str], reason: str) -> dict[str, Any]:
        ids = list(dict.fromkeys(submission_ids))
        rejected: list[str] = []
        skipped: dict[str, str] = {}
        for start in range(0, len(ids), _PAGE):  # the API takes at most 500 at once
            answer = await self.call(
                "POST",
                "/api/v1/submissions/reject",
                payload={"ids": ids[start : start + _PAGE], "reason": reason},
            )
            rejected.extend(answer["rejected"])
            skipped.update(answer["skipped"])
        return {"rejected": rejected, "skipped": skipped}

    async def retract(self, submission_id: str, reason: str) -> dict[str, Any]:
        return await self.call(
            "POST", f"/api/v1/submissions/{submission_id}/retract", payload={"reason": reason}
        )

    async def purge(self, retention_days: int | None) -> dict[str, Any]:
        payload = {} if retention_days is None else {"retention_days": retention_days}
        return await self.call("POST", "/api/v1/submissions/purge", payload=payload)

    async def audit(self) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        while True:
            after = str(entries[-1]["seq"] if entries else 0)
            query = {"after": after, "limit": str(_AUDIT_PAGE)}
            answer = await self.call("GET", "/api/v1/audit", params=query)
            entries.extend(answer["entries"])
            if len(answer["entries"]) < _AUDIT_PAGE:
                return {**answer, "entries": entries}

    async def close(self) -> None:
        await self._session.close()


def with_node(
    args: argparse.Namespace, work: Callable[[ModeratedNode], Coroutine[Any, Any, T]]
) -> T:
    """Run ``work`` on the node the options name: ``--node`` (remote) or the data directory."""

    async def run() -> T:
        node: ModeratedNode
        if args.node is not None:
            if args.data_dir is not None:
                raise CommandError("give --node or --data-dir, not both")
            if not args.node.startswith(("http://", "https://")):
                raise CommandError("--node must be an http:// or https:// URL")
            host = urllib.parse.urlsplit(args.node).hostname or ""
            if args.node.startswith("http://") and host not in _LOCAL_HOSTS:
                raise CommandError(
                    "--node must be https:// unless the node is on this machine: the token "
                    "and the reports' sealed parts would cross the network in the clear"
                )
            token = args.token or os.environ.get(TOKEN_ENV)
            if not token:
                raise CommandError(f"--node needs a moderator token: ${TOKEN_ENV} or --token")
            node = await RemoteNode.open(args.node, token)
        else:
            node = await LocalNode.open(data_dir_of(args))
        try:
            return await work(node)
        finally:
            await node.close()

    return asyncio.run(run())
