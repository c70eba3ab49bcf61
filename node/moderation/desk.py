"""What the moderators' desk asks of the node, beyond the decisions of
:mod:`node.moderation.service`: claims, notes sealed by the desk, questions to
the reporter and their sealed answers, duplicates, and a submission's history
(docs/api.md, "The moderators' desk"). Candidates for duplicates are in
:mod:`node.moderation.candidates`.

The node never sees a note in clear: the desk seals it to the moderator keys
and the node checks only that the box's recipients are exactly the current
moderator keys. A reporter's answer is sealed here as a report's private part
is (:func:`node.moderation.submissions.seal_private`).
"""

import binascii
from collections.abc import Sequence
from typing import Any, Final

from node.moderation.submissions import (
    ModerationConflict,
    SubmissionError,
    SubmissionNotFound,
    seal_private,
)
from node.problems import ApiError, BadRequest
from protocol.errors import MalformedError
from protocol.keys import b64url_decode, b64url_encode
from protocol.sealing import box_key_ids
from protocol.utc import utc_text
from storage.desk import Claim, ClaimOutcome, DeskStore, Item
from storage.submissions import AuditEntry, Submission, SubmissionStore

# The triage fields a queue filters on (each repeatable), and those it counts.
QUEUE_FILTERS: Final = ("country", "city", "category", "technology")
QUEUE_FACETS: Final = ("kind", *QUEUE_FILTERS, "received_on")
MAX_QUESTION: Final = 2_000
MAX_ANSWER: Final = 10_000
MAX_BULK: Final = 500
MAX_NOTE_BYTES: Final = 64 * 1024
CANDIDATE_REASONS: Final = (
    "same_city",
    "same_category",
    "same_technology",
    "same_agency",
    "same_day",
    "near_date",
    "same_area",
    "neighbouring_area",
    "within_radius",
)
# The bytes each kind of sealed item is bound to, after the submission's id.
NOTE_CONTEXT: Final = ":note"
ANSWER_CONTEXT: Final = ":answer"


class ClaimHeld(SubmissionError):
    """Another moderator holds a live claim; the problem says who and since when."""

    status = 409
    code = "claim-held"

    def __init__(self, submission_id: str, claim: Claim) -> None:
        super().__init__(
            f"{submission_id} is claimed by {claim.holder} since {utc_text(claim.since_ms)} "
            f"until {utc_text(claim.expires_ms)}; take it over explicitly (take_over) or wait",
            holder=claim.holder,
            since_ms=claim.since_ms,
            expires_ms=claim.expires_ms,
        )


class Desk:
    """The desk's requests, checked and written to the audit log (by the stores)."""

    def __init__(self, submissions: SubmissionStore, desk: DeskStore, claim_minutes: int) -> None:
        self._submissions = submissions
        self._desk = desk
        self.claim_minutes = claim_minutes

    async def get(self, submission_id: str) -> Submission:
        submission = await self._submissions.get(submission_id)
        if submission is None:
            raise SubmissionNotFound(f"no submission {submission_id[:40]!r} on this node")
        return submission

    async def _unclaimed(self, submission_id: str, actor: str) -> Submission:
        submission = await self.get(submission_id)
        claim = await self._desk.held_by_other(submission_id, actor)
        if claim is not None:
            raise ClaimHeld(submission_id, claim)
        return submission

    # -- claims ---------------------------------------------------------------

    async def claim(self, submission_id: str, actor: str, *, take_over: bool) -> ClaimOutcome:
        await self.get(submission_id)
        outcome = await self._desk.claim(
            submission_id, actor, minutes=self.claim_minutes, take_over=take_over
        )
        if outcome.refused:
            raise ClaimHeld(submission_id, outcome.claim)
        return outcome

    async def release(self, submission_id: str, actor: str) -> bool:
        await self.get(submission_id)
        released, other = await self._desk.release(submission_id, actor)
        if other is not None:
            raise ClaimHeld(submission_id, other)
        return released

    # -- notes ----------------------------------------------------------------

    async def add_note(
        self, submission_id: str, actor: str, sealed: str, key_ids: Sequence[str]
    ) -> Item:
        """Store a note the desk sealed, once its recipients are exactly the current keys."""
        await self._unclaimed(submission_id, actor)
        try:
            box = b64url_decode(sealed)
        except (ValueError, binascii.Error) as exc:
            raise BadRequest("sealed must be unpadded base64url") from exc
        if len(box) > MAX_NOTE_BYTES:
            raise ApiError(
                f"sealed is over {MAX_NOTE_BYTES // 1024} KiB", status=413, code="too-large"
            )
        try:
            recipients = box_key_ids(box)
        except MalformedError as exc:
            raise BadRequest(f"sealed is not a sealed box: {exc}") from exc
        given = sorted(set(key_ids))
        if given != recipients:
            raise SubmissionError(
                f"key_ids: {', '.join(given)} are not the box's recipients "
                f"({', '.join(recipients)})"
            )
        current = {key.key_id for key in await self._submissions.keys()}
        stale, missing = sorted(set(given) - current), sorted(current - set(given))
        if stale or missing:
            parts = [f"not a current moderator key: {', '.join(stale)}"] if stale else []
            if missing:
                parts.append(f"left out: {', '.join(missing)}")
            raise SubmissionError(
                f"key_ids: {'; '.join(parts)}. Fetch GET /api/v1/moderators and seal again"
            )
        return await self._desk.add_note(submission_id, actor, box, given)

    # -- questions and answers ------------------------------------------------

    async def ask(self, submission_id: str, actor: str, question: str) -> int:
        submission = await self._unclaimed(submission_id, actor)
        question_id = await self._desk.ask(submission_id, actor, question)
        if question_id is None:
            raise ModerationConflict(
                f"{submission_id} is {submission.status}; only a pending report (or one "
                "waiting for an answer) can be asked about"
            )
        return question_id

    async def question_for(self, receipt: str) -> tuple[str, str, Item | None] | None:
        """(submission id, status, the question waiting) for a receipt code; None if unknown."""
        found = await self._desk.by_receipt(receipt)
        if found is None:
            return None
        submission_id, status = found
        waiting = await self._desk.waiting_question(submission_id)
        return submission_id, status, waiting

    async def answer(self, receipt: str, answer: str) -> int:
        """Seal and store the reporter's answer; the submission is pending again."""
        found = await self.question_for(receipt)
        if found is None:
            raise SubmissionNotFound("no report has this receipt code")
        submission_id, _, question = found
        if question is None:
            raise ModerationConflict("no question waits for an answer on this report")
        sealed, key_ids = await seal_private(
            self._submissions,
            {"answer": answer, "question_id": question.id},
            submission_id + ANSWER_CONTEXT,
        )
        answer_id = await self._desk.answer(submission_id, question.id, sealed, key_ids)
        if answer_id is None:
            raise ModerationConflict("no question waits for an answer on this report")
        return answer_id

    # -- duplicates -----------------------------------------------------------

    async def mark_duplicates(
        self, submission_ids: Sequence[str], of: str, actor: str
    ) -> tuple[list[str], dict[str, str]]:
        """Mark open submissions duplicates of ``of``: (marked, {id: why not} for the rest)."""
        ids = list(dict.fromkeys(submission_ids))
        if of in ids:
            raise SubmissionError(f"of: {of} is among the ids; a report cannot duplicate itself")
        if of.startswith("sub_"):
            known = await self._submissions.get(of) is not None
        else:
            known = await self._desk.record_exists(bytes.fromhex(of))
        if not known:
            raise SubmissionError(f"of: {of[:70]} is not a submission or record on this node")
        marked: list[str] = []
        skipped: dict[str, str] = {}
        for submission_id in ids:
            claim = await self._desk.held_by_other(submission_id, actor)
            if claim is not None:
                skipped[submission_id] = f"claimed by {claim.holder}"
            elif await self._desk.mark_duplicate(submission_id, of, actor):
                marked.append(submission_id)
            else:
                found = await self._submissions.get(submission_id)
                skipped[submission_id] = "not found" if found is None else found.status
        return marked, skipped

    # -- history --------------------------------------------------------------

    async def history(
        self, submission_id: str, actor: str
    ) -> tuple[list[AuditEntry], list[Item], int | None]:
        """(its audit entries, its items, the first broken seq of the whole log or None).
        Logged as a view: the items hold the sealed answers."""
        await self.get(submission_id)
        await self._submissions.audit(
            actor=actor, action="view", submission=submission_id, history=True
        )
        entries = await self._submissions.audit_log(submission=submission_id, limit=100_000)
        items = await self._desk.items(submission_id)
        return entries, items, await self._submissions.verify_audit_log()


def item_view(item: Item) -> dict[str, Any]:
    """A submission's item as its history shows it: content only ever sealed, but a
    question, which is written for the reporter."""
    return {
        "id": item.id,
        "type": item.type,
        "at_ms": item.at_ms,
        "actor": item.actor,
        "sealed": None if item.sealed is None else b64url_encode(item.sealed),
        "key_ids": item.key_ids,
        "question": item.question,
        "question_id": item.question_id,
    }


def audit_entry_view(entry: AuditEntry) -> dict[str, Any]:
    """One audit log entry as the API and the CLI show it (the log, a submission's history)."""
    return {
        "seq": entry.seq,
        "at_ms": entry.at_ms,
        "actor": entry.actor,
        "action": entry.action,
        "submission": entry.submission,
        "record_id": None if entry.record_id is None else entry.record_id.hex(),
        "detail": entry.detail,
        "hash": b64url_encode(entry.hash),
    }
