"""``submissions claim``, ``release``, ``note``, ``ask``, ``duplicate`` and ``history``: the
desk's requests from a terminal, for scripting (docs/cli.md). A note is sealed here to
the node's current moderator keys before it is sent; ``history --key`` opens the notes
and the reporter's answers here, never on the node."""

import argparse
import json
from pathlib import Path
from typing import Any

from node.cli.common import CommandError, table
from node.cli.registrar import Registrar
from node.cli.submissions.arguments import key_of, parse_submission_id
from node.cli.submissions.desknodes import desk_of
from node.cli.submissions.nodes import ModeratedNode, with_node
from node.moderation.desk import ANSWER_CONTEXT, MAX_QUESTION, NOTE_CONTEXT
from protocol.errors import ProtocolError
from protocol.keys import b64url_decode, b64url_encode
from protocol.sealing import ModeratorKey, ModeratorPublicKey, SealingError, seal
from protocol.utc import utc_text


def register_desk(submissions: Registrar, node_options: Any) -> None:
    """Add ``submissions claim|release|note|ask|duplicate|history``."""
    sub = submissions.command(
        "claim",
        "Claim a submission, so other moderators see you are working on it "
        "([moderation] claim_minutes, default 30; claiming again renews it). Refused while "
        "another holds it, unless --take-over.",
        cmd_claim,
        data_dir=True,
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument(
        "--take-over", action="store_true", help="take the claim over from whoever holds it"
    )
    sub = submissions.command(
        "release", "Release your claim on a submission.", cmd_release, data_dir=True
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")

    sub = submissions.command(
        "note",
        "Add an internal note to a submission, sealed here to every current moderator key: "
        "the node stores it but cannot read it. Never replicated.",
        cmd_note,
        data_dir=True,
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument("text", metavar="TEXT", help="the note (quote it)")

    sub = submissions.command(
        "ask",
        "Ask the reporter for more: the status page shows your question to whoever holds "
        "the report's receipt code, and nowhere else. The report waits (needs_info) until "
        "they answer.",
        cmd_ask,
        data_dir=True,
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument(
        "question",
        metavar="QUESTION",
        help=f"in words the reporter understands, at most {MAX_QUESTION:,} characters; "
        "nothing they did not tell you",
    )

    sub = submissions.command(
        "duplicate",
        "Mark pending submissions as duplicates of another submission or of a record. Prints "
        "those marked, and those skipped with why (exit status 1 if any was skipped).",
        cmd_duplicate,
        data_dir=True,
    )
    node_options(sub)
    sub.add_argument("ids", nargs="+", metavar="ID", help="submission ids")
    sub.add_argument(
        "--of",
        required=True,
        metavar="TARGET",
        help="what they duplicate: a submission id (sub_...) or a record id (64 hex digits)",
    )

    sub = submissions.command(
        "history",
        "A submission's history: who viewed, claimed, noted, asked and decided, its notes, "
        "questions and answers, and whether the audit log's hash chain is intact (exit "
        "status 1 if not).",
        cmd_history,
        data_dir=True,
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="your moderator key file, to read the notes and answers here",
    )
    sub.add_argument("--json", action="store_true", help="print JSON")


def cmd_claim(args: argparse.Namespace) -> int:
    submission_id = parse_submission_id(args.id)

    async def run(node: ModeratedNode) -> dict[str, Any]:
        return await desk_of(node).claim(submission_id, args.take_over)

    answer = with_node(args, run)
    claim = answer["claim"]
    taken = f", taken over from {answer['taken_from']}" if answer["taken_from"] else ""
    print(
        f"claimed {submission_id} as {claim['holder']} until {utc_text(claim['expires_ms'])}{taken}"
    )
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    submission_id = parse_submission_id(args.id)

    async def run(node: ModeratedNode) -> dict[str, Any]:
        return await desk_of(node).release(submission_id)

    released = with_node(args, run)["released"]
    print(f"released {submission_id}" if released else f"you held no claim on {submission_id}")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    submission_id = parse_submission_id(args.id)
    if not args.text.strip():
        raise CommandError("the note is empty")
    plaintext = json.dumps({"text": args.text}, ensure_ascii=False).encode("utf-8")

    async def run(node: ModeratedNode) -> dict[str, Any]:
        desk = desk_of(node)
        keys = [ModeratorPublicKey.parse(k["public"]) for k in await desk.moderator_keys()]
        if not keys:
            raise CommandError("the node has no moderator keys to seal the note to")
        box = seal(plaintext, keys, (submission_id + NOTE_CONTEXT).encode("ascii"))
        return await desk.note(submission_id, b64url_encode(box), [k.key_id for k in keys])

    answer = with_node(args, run)
    print(f"noted on {submission_id} (note {answer['note_id']}), sealed to the moderator keys")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    submission_id = parse_submission_id(args.id)
    question = args.question.strip()
    if not 0 < len(question) <= MAX_QUESTION:
        raise CommandError(f"the question must be 1 to {MAX_QUESTION:,} characters")

    async def run(node: ModeratedNode) -> dict[str, Any]:
        return await desk_of(node).ask(submission_id, question)

    with_node(args, run)
    print(f"asked the reporter of {submission_id}; it waits for their answer (needs_info)")
    return 0


def cmd_duplicate(args: argparse.Namespace) -> int:
    ids = [parse_submission_id(text) for text in args.ids]

    async def run(node: ModeratedNode) -> dict[str, Any]:
        return await desk_of(node).duplicate(ids, args.of)

    answer = with_node(args, run)
    for submission_id in answer["marked"]:
        print(f"marked {submission_id} as a duplicate of {args.of}")
    for submission_id, why in answer["skipped"].items():
        print(f"skipped {submission_id}: {why}")
    return 1 if answer["skipped"] else 0


def cmd_history(args: argparse.Namespace) -> int:
    submission_id = parse_submission_id(args.id)
    key = None if args.key is None else key_of(args.key)

    async def run(node: ModeratedNode) -> dict[str, Any]:
        return await desk_of(node).history(submission_id)

    answer = with_node(args, run)
    if key is not None:
        for item in answer["items"]:
            item["opened"] = _open_item(submission_id, item, key)
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        _print_history(answer)
    return 0 if answer["intact"] else 1


def _open_item(submission_id: str, item: dict[str, Any], key: ModeratorKey) -> Any:
    """A note's or an answer's content, opened with the moderator's key; None if purged."""
    if item["sealed"] is None:
        return None
    context = NOTE_CONTEXT if item["type"] == "note" else ANSWER_CONTEXT
    try:
        opened = key.open(b64url_decode(item["sealed"]), (submission_id + context).encode())
    except (SealingError, ProtocolError, ValueError) as exc:
        raise CommandError(f"cannot open {item['type']} {item['id']} with your key: {exc}") from exc
    return json.loads(opened)


def _print_history(answer: dict[str, Any]) -> None:
    rows = [
        (e["seq"], utc_text(e["at_ms"]), e["actor"], e["action"], json.dumps(e["detail"]))
        for e in answer["entries"]
    ]
    if rows:
        print(table(("seq", "at", "actor", "action", "detail"), rows))
    for item in answer["items"]:
        print(f"\n{item['type']} {item['id']}, {utc_text(item['at_ms'])}, by {item['actor']}:")
        if item["type"] == "question":
            print(item["question"] if item["question"] is not None else "(purged)")
        elif "opened" in item:
            opened = item["opened"]
            text = None if opened is None else opened.get("text", opened.get("answer"))
            print("(purged)" if text is None else text)
        else:
            print("(sealed: give --key to read it)")
    if answer["intact"]:
        print("\nhash chain intact")
    else:
        print(f"\nhash chain BROKEN from entry {answer['first_broken_seq']}")
