"""The moderation service: moderators' decisions on submissions, for the API and the
CLI alike. Each decision is checked, applied (a record signed and stored as this
node, through :func:`record_publisher`) and written to the audit log.
"""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Final

from node.moderation.desk import ClaimHeld
from node.moderation.submissions import (
    REJECT_REASONS,
    RETRACT_REASONS,
    ModerationConflict,
    SubmissionError,
    SubmissionNotFound,
    unfinished_fields,
)
from node.publishing import publish
from protocol.keys import NodeKey
from protocol.limits import Limits
from protocol.records import VerifiedRecord
from storage.desk import DeskStore
from storage.records import RecordStore
from storage.submissions import OPEN, Submission, SubmissionStore

# How far each audience reaches: each one's receivers include the narrower ones'
# (docs/protocol.md, section 7). A correction may widen its record's audience, never
# narrow it: the earlier record stays wherever it went.
AUDIENCE_REACH: Final = {"coordinators": 0, "network": 1, "public": 2}


def narrower(audience: str, than: str) -> bool:
    """Whether ``audience`` reaches fewer nodes than ``than``."""
    return AUDIENCE_REACH[audience] < AUDIENCE_REACH[than]


class Moderation:
    """Moderators' decisions, checked and written to the audit log."""

    def __init__(
        self,
        store: SubmissionStore,
        records: RecordStore,
        publish_record: Callable[[str, str, dict[str, Any]], Any],
        *,
        claims: DeskStore | None = None,
    ) -> None:
        self._store = store
        self._records = records
        # Another moderator's live claim stops a decision (docs/api.md, "The moderators' desk").
        self._claims = claims
        # One decision at a time: a publication checks the status, signs, then records
        # it; a rejection or another publication in between would leave a record out
        # that nothing points to.
        self._deciding = asyncio.Lock()
        # (kind, audience, body) -> awaitable VerifiedRecord
        self._publish_record = publish_record

    async def get(self, submission_id: str) -> Submission:
        submission = await self._store.get(submission_id)
        if submission is None:
            raise SubmissionNotFound(f"no submission {submission_id[:40]!r} on this node")
        return submission

    async def check_claim(self, submission_id: str, actor: str) -> None:
        """Refuse (409 claim-held) when another actor holds a live claim on the submission."""
        if self._claims is not None:
            claim = await self._claims.held_by_other(submission_id, actor)
            if claim is not None:
                raise ClaimHeld(submission_id, claim)

    async def fetch_sealed(self, submission_id: str, *, actor: str) -> Submission:
        """A submission with its sealed private part, for a moderator to open: logged as a view,
        so the audit log shows who took which reports' private parts away."""
        submission = await self.get(submission_id)
        if submission.sealed is not None:
            await self._store.audit(actor=actor, action="view", submission=submission_id)
        return submission

    async def publish(
        self, submission_id: str, audience: str, body: Any, *, actor: str
    ) -> VerifiedRecord:
        """Publish a redacted record of a submission, or a correction of the one published."""
        async with self._deciding:
            return await self._publish(submission_id, audience, body, actor=actor)

    async def _publish(
        self, submission_id: str, audience: str, body: Any, *, actor: str
    ) -> VerifiedRecord:
        submission = await self.get(submission_id)
        await self.check_claim(submission_id, actor)
        if not submission.triage.get("consent_publish"):
            raise ModerationConflict(
                f"{submission_id}: the reporter did not consent to publication"
            )
        if submission.status not in (*OPEN, "published"):
            raise ModerationConflict(
                f"{submission_id} is {submission.status}; it cannot be published"
            )
        if not isinstance(body, dict):
            raise SubmissionError("body must be a JSON object: the record's body")
        correction = submission.status == "published"
        detail: dict[str, Any] = {"audience": audience, "kind": submission.kind}
        if correction:
            body, before = await self._correction(submission, audience, body)
            if before is not None and before != audience:
                detail["widened_from"] = before
        elif "supersedes" in body:
            raise SubmissionError("a first publication supersedes nothing; remove supersedes")
        unfinished = unfinished_fields(body)
        if unfinished:
            raise SubmissionError(
                f"fill in {', '.join(unfinished)} first: a draft's TODO is not for publishing"
            )
        record: VerifiedRecord = await self._publish_record(submission.kind, audience, body)
        done = await self._store.decide(
            submission_id,
            "published",
            expected=("published",) if correction else OPEN,
            actor=actor,
            action="correct" if correction else "publish",
            detail=detail,
            record_id=record.id,
        )
        if not done:
            # Another process on the same database (a local CLI) decided it meanwhile:
            # what was just published must not stay out, so it is retracted at once.
            undo = await self._publish_record(
                "retraction", audience, {"target": record.id.hex(), "reason": "error"}
            )
            await self._store.audit(
                actor=actor,
                action="publish-undone",
                submission=submission_id,
                record=record.id.hex(),
                retraction=undo.id.hex(),
            )
            raise ModerationConflict(
                f"{submission_id} was decided by someone else meanwhile; the record "
                f"published from it ({record.id.hex()}) was retracted at once"
            )
        return record

    async def _correction(
        self, submission: Submission, audience: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """``body`` as a correction of the record last published from ``submission``, and
        that record's audience (None if it is gone). The correction may widen the
        audience (its ``supersedes`` then names a record of a narrower one, which nodes
        that hold both hide), never narrow it."""
        assert submission.record_id is not None
        current = submission.record_id.hex()
        published = await self._records.get(submission.record_id)
        before = None if published is None else published.envelope.audience
        if before is not None and audience in AUDIENCE_REACH and narrower(audience, before):
            raise ModerationConflict(
                f"a correction cannot narrow the audience: the record it corrects went to "
                f"{before}, and a record cannot be taken back from the nodes that received it. "
                f"To withdraw it from {before}, retract {submission.id} instead (its records "
                f"are erased everywhere they went); a correction may keep {before} or widen it"
            )
        if body.get("supersedes", current) != current:
            raise ModerationConflict(
                f"a correction of {submission.id} must supersede its latest record {current}"
            )
        return {**body, "supersedes": current}, before

    async def reject(
        self, submission_ids: Sequence[str], reason: str, *, actor: str
    ) -> tuple[list[str], dict[str, str]]:
        """Reject pending submissions: (rejected ids, {id: why not} for the rest)."""
        if reason not in REJECT_REASONS:
            raise SubmissionError(f"reason must be one of {', '.join(REJECT_REASONS)}")
        rejected, skipped = [], {}
        async with self._deciding:  # not while a publication of one of them is under way
            for submission_id in dict.fromkeys(submission_ids):
                claim = None
                if self._claims is not None:
                    claim = await self._claims.held_by_other(submission_id, actor)
                if claim is not None:
                    skipped[submission_id] = f"claimed by {claim.holder}"
                    continue
                done = await self._store.decide(
                    submission_id,
                    "rejected",
                    expected=OPEN,
                    actor=actor,
                    action="reject",
                    detail={"reason": reason},
                    reason=reason,
                )
                if done:
                    rejected.append(submission_id)
                else:
                    found = await self._store.get(submission_id)
                    skipped[submission_id] = "not found" if found is None else found.status
        return rejected, skipped

    async def retract(self, submission_id: str, reason: str, *, actor: str) -> list[VerifiedRecord]:
        """Retract every record published from a submission (its corrections too), newest
        first: each retraction erases its target's body on every node that holds it."""
        async with self._deciding:
            return await self._retract(submission_id, reason, actor=actor)

    async def _retract(
        self, submission_id: str, reason: str, *, actor: str
    ) -> list[VerifiedRecord]:
        if reason not in RETRACT_REASONS:
            raise SubmissionError(f"reason must be one of {', '.join(RETRACT_REASONS)}")
        submission = await self.get(submission_id)
        await self.check_claim(submission_id, actor)
        if submission.status != "published" or submission.record_id is None:
            raise ModerationConflict(
                f"{submission_id} is {submission.status}; only a published one can be retracted"
            )
        retractions = []
        for target_id in reversed(await self._store.published_records(submission_id)):
            target = await self._records.get(target_id)
            if target is None or target.body is None:
                continue  # erased already
            # The retraction goes where the record went, so every node that holds it learns.
            retractions.append(
                await self._publish_record(
                    "retraction",
                    target.envelope.audience,
                    {"target": target_id.hex(), "reason": reason},
                )
            )
        done = await self._store.decide(
            submission_id,
            "retracted",
            expected=("published",),
            actor=actor,
            action="retract",
            detail={"reason": reason, "retractions": [r.id.hex() for r in retractions]},
            reason=reason,
        )
        if not done:
            raise ModerationConflict(
                f"{submission_id} was decided by someone else while its retractions were "
                f"published ({', '.join(r.id.hex() for r in retractions)})"
            )
        return retractions

    async def purge(self, now_ms: int, retention_days: int, *, actor: str) -> list[str]:
        """Delete the private part of every submission decided over ``retention_days`` ago."""
        return await self._store.purge(now_ms - retention_days * 86_400_000, actor=actor)


def record_publisher(
    records: RecordStore, key: NodeKey, *, network_id: str, limits: Limits, clock: Callable[[], int]
) -> Callable[[str, str, dict[str, Any]], Any]:
    """The publish step :class:`Moderation` uses: sign and store as this node."""

    async def publish_record(kind: str, audience: str, body: dict[str, Any]) -> VerifiedRecord:
        return await publish(
            records,
            key,
            network_id=network_id,
            limits=limits,
            kind=kind,
            audience=audience,
            body=body,
            clock=clock,
        )

    return publish_record
