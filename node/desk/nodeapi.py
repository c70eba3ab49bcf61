"""The node's moderation API, as the desk calls it: JSON over HTTP with a moderator token.

Everything the desk knows of a report comes through here, sealed; everything
it sends is a decision the moderator made (docs/api.md, "Moderation").
:class:`NodeError` carries the node's own problem detail, so the desk can show
the moderator why the node refused; :class:`NodeUnreachable` and
:class:`TokenRefused` are what ``banscan desk`` reports at start.
"""

from collections.abc import Sequence
from typing import Any, Final

import aiohttp

from protocol.envelope import AUDIENCES

_TIMEOUT_S: Final = 60
MAX_IDS: Final = 500  # the most ids one bulk call takes


class NodeError(Exception):
    """The node answered with an error; ``detail`` is its problem's detail."""

    def __init__(self, status: int, detail: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{detail} (HTTP {status})")
        self.status = status
        self.detail = detail
        self.body = body or {}


class NodeUnreachable(NodeError):
    """No answer from the node (refused, timed out, not an HTTP server)."""


class TokenRefused(NodeError):
    """The node refused the token: unknown, expired, or not a moderator's."""


class NodeApi:
    """One node's moderation routes, over one HTTP session."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=_TIMEOUT_S),
        )

    async def close(self) -> None:
        await self._session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        payload: dict[str, Any] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        try:
            async with self._session.request(
                method, self.url + path, json=payload, params=params
            ) as response:
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise NodeUnreachable(0, f"no answer from {self.url}: {reason}") from exc
        body = answer if isinstance(answer, dict) else None
        if status >= 400:
            detail = str((body or {}).get("detail") or f"the node answered HTTP {status}")
            if status in (401, 403):
                raise TokenRefused(status, detail, body)
            raise NodeError(status, detail, body)
        if body is None:
            raise NodeError(status, f"{self.url}{path} did not answer a JSON object")
        return body

    async def check(self) -> dict[str, Any]:
        """The node's identity, and that the token is a moderator's (the moderators route)."""
        node = await self.call("GET", "/api/v1/node")
        if node.get("software") != "banscan":
            raise NodeError(200, f"{self.url} is not a banscan node")
        await self.call("GET", "/api/v1/moderators")
        return node

    async def default_audience(self) -> dict[str, str]:
        """The audience per kind the node publishes to when the moderator chooses none."""
        answer = await self.call("GET", "/api/v1/moderators")
        said = answer.get("default_audience")
        if not isinstance(said, dict):
            return {}
        return {k: v for k, v in said.items() if isinstance(v, str) and v in AUDIENCES}

    async def moderators(self) -> list[dict[str, Any]]:
        answer = await self.call("GET", "/api/v1/moderators")
        return list(answer["moderators"])

    async def submissions(self, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        return await self.call("GET", "/api/v1/submissions", params=params)

    async def submission(self, submission_id: str) -> dict[str, Any]:
        """One submission with its sealed private part (the node logs it as viewed)."""
        return await self.call("GET", f"/api/v1/submissions/{submission_id}")

    async def record(self, record_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/api/v1/records/{record_id}")

    async def publish(
        self, submission_id: str, audience: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.call(
            "POST",
            f"/api/v1/submissions/{submission_id}/publish",
            payload={"audience": audience, "body": body},
        )

    async def reject(self, ids: Sequence[str], reason: str) -> dict[str, Any]:
        return await self.call(
            "POST", "/api/v1/submissions/reject", payload={"ids": list(ids), "reason": reason}
        )

    async def retract(self, submission_id: str, reason: str) -> dict[str, Any]:
        return await self.call(
            "POST", f"/api/v1/submissions/{submission_id}/retract", payload={"reason": reason}
        )

    async def audit(self, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        params = [("after", str(after)), ("limit", str(limit))]
        return await self.call("GET", "/api/v1/audit", params=params)

    async def claim(self, submission_id: str, *, take_over: bool = False) -> dict[str, Any]:
        """Claim (or renew, or take over): 409 ``claim-held`` names the holder otherwise."""
        payload = {"take_over": True} if take_over else {}
        return await self.call(
            "POST", f"/api/v1/submissions/{submission_id}/claim", payload=payload
        )

    async def release(self, submission_id: str) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/submissions/{submission_id}/release", payload={})

    async def note(self, submission_id: str, sealed: str, key_ids: list[str]) -> dict[str, Any]:
        """A note already sealed here to every moderator key: the node never sees its text."""
        return await self.call(
            "POST",
            f"/api/v1/submissions/{submission_id}/notes",
            payload={"sealed": sealed, "key_ids": key_ids},
        )

    async def ask(self, submission_id: str, question: str) -> dict[str, Any]:
        return await self.call(
            "POST", f"/api/v1/submissions/{submission_id}/ask", payload={"question": question}
        )

    async def duplicate(self, ids: Sequence[str], of: str) -> dict[str, Any]:
        return await self.call(
            "POST", "/api/v1/submissions/duplicate", payload={"ids": list(ids), "of": of}
        )

    async def candidates(self, submission_id: str, area: str | None) -> dict[str, Any]:
        params = [("area", area)] if area else []
        return await self.call(
            "GET", f"/api/v1/submissions/{submission_id}/candidates", params=params
        )

    async def history(self, submission_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/api/v1/submissions/{submission_id}/history")
