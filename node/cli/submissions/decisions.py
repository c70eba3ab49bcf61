"""``submissions publish``, ``reject``, ``retract`` and ``purge``: the moderator's decisions."""

import argparse
import json
from pathlib import Path
from typing import Any

from node.cli.common import CommandError, CommandFailed
from node.cli.submissions.arguments import key_of, parse_submission_id
from node.cli.submissions.drafts import open_private, redacted_body
from node.cli.submissions.nodes import ModeratedNode, with_node
from node.moderation.submissions import unfinished_fields
from protocol.envelope import AUDIENCES
from protocol.fields import MAX_AREA_PRECISION
from protocol.sealing import ModeratorKey


def cmd_publish(args: argparse.Namespace) -> int:
    ids = [parse_submission_id(text) for text in args.ids]
    if not 1 <= args.precision <= MAX_AREA_PRECISION:
        raise CommandError(f"--precision must be from 1 to {MAX_AREA_PRECISION}")
    if args.body is not None:
        if len(ids) != 1:
            raise CommandError("--body publishes one submission: give one ID")
        audience, body = _read_draft(args.body)
        audience = args.audience or audience
        key = None
    elif args.key is None:
        raise CommandError(
            "give --key (to build the record from the submission) or --body (an edited draft)"
        )
    else:
        key = key_of(args.key)

    async def run(node: ModeratedNode) -> int:
        failed = 0
        for submission_id in ids:
            note = ""
            try:
                if key is None:
                    answer = await node.publish(submission_id, audience, body)
                else:
                    answer, note = await _publish_built(node, submission_id, key, args)
            except (CommandFailed, CommandError) as exc:
                if len(ids) == 1:
                    raise
                print(f"not published {submission_id}: {exc}")
                failed += 1
                continue
            print(
                f"published {submission_id} as record {answer['record_id']} ({answer['audience']})"
            )
            if note:
                print(f"  {note}")
        return 1 if failed else 0

    return with_node(args, run)


async def default_audience(node: ModeratedNode, view: dict[str, Any]) -> tuple[str, str]:
    """The audience a record from ``view`` goes to when none is given, and why, in words."""
    if view["status"] == "published" and view["record_id"]:
        current = await node.record_audience(view["record_id"])
        if current is not None:
            return current, (
                f"audience {current}: that of the record it corrects (not given with "
                "--audience; a correction may widen the audience, never narrow it)"
            )
    audience = await node.default_audience(view["kind"])
    if view["kind"] != "incident":
        why = "the default for a deployment, as --audience was not given"
    else:
        why = (
            "the node's default for an incident ([moderation] incident_audience), "
            "as --audience was not given"
        )
    reach = {
        "public": "Anyone receives it: the public site, maps and exports",
        "network": "Only the network's member nodes receive it; it is not on public pages, "
        "maps or exports",
        "coordinators": "Only the network's coordinator nodes receive it; it is not on public "
        "pages, maps or exports",
    }[audience]
    widen = (
        ""
        if audience == "public"
        else ". To publish it to everyone, publish it again with --audience public: "
        "a correction may widen the audience, never narrow it"
    )
    return audience, f"audience {audience}: {why}. {reach}{widen}"


async def _publish_built(
    node: ModeratedNode, submission_id: str, key: ModeratorKey, args: argparse.Namespace
) -> tuple[dict[str, Any], str]:
    view = await node.get(submission_id)
    private = open_private(view, key)
    if private is None:
        raise CommandError(
            f"{submission_id}: its private part was purged; publish with --body instead"
        )
    body = redacted_body(
        view,
        private,
        precision=args.precision,
        summary=args.summary,
        omit=args.omit,
        verification=args.verification,
        include_sources=args.include_sources,
    )
    audience, note = args.audience, ""
    if audience is None:
        audience, note = await default_audience(node, view)
    return await node.publish(submission_id, audience, body), note


def _read_draft(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        draft = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read it: {exc}") from exc
    except ValueError as exc:
        raise CommandError(f"{path}: not valid JSON: {exc}") from exc
    if (
        not isinstance(draft, dict)
        or draft.get("audience") not in AUDIENCES
        or not isinstance(draft.get("body"), dict)
    ):
        raise CommandError(
            f'{path}: a draft is {{"audience": {" | ".join(AUDIENCES)}, "body": {{...}}}}'
        )
    todo = unfinished_fields(draft["body"])
    if todo:
        raise CommandError(f"{path}: fill in {', '.join(todo)} first")
    return str(draft["audience"]), draft["body"]


def cmd_reject(args: argparse.Namespace) -> int:
    ids = [parse_submission_id(text) for text in args.ids]
    answer = with_node(args, lambda node: node.reject(ids, args.reason))
    for submission_id in answer["rejected"]:
        print(f"rejected {submission_id} ({args.reason})")
    for submission_id, why in answer["skipped"].items():
        print(f"skipped {submission_id}: {why if why == 'not found' else f'it is {why}'}")
    return 1 if answer["skipped"] else 0


def cmd_retract(args: argparse.Namespace) -> int:
    submission_id = parse_submission_id(args.id)
    answer = with_node(args, lambda node: node.retract(submission_id, args.reason))
    for record_id in answer["record_ids"]:
        print(f"retracted {submission_id}: retraction record {record_id} ({args.reason})")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    days = args.retention_days
    if days is not None and not 0 <= days <= 3650:
        raise CommandError("--retention-days must be from 0 to 3650")
    answer = with_node(args, lambda node: node.purge(days))
    purged = answer["purged"]
    print(f"deleted the private part of {len(purged)} decided submission(s)")
    for submission_id in purged:
        print(f"  {submission_id}")
    return 0
