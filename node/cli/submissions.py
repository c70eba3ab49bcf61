"""``banscan moderators`` and ``banscan submissions``: reviewing reports from a terminal.

``moderators`` manages the public keys reports are sealed to; it works on a
data directory (``keygen`` on nothing at all: it runs on the moderator's own
machine, where the private key stays).

``submissions`` works in two modes, with the same commands and output:

- local, ``--data-dir DIR``: opens the node's database directly, as the other
  commands do; the audit log names ``cli:<os user>``;
- remote, ``--node URL`` with a moderator token: calls the moderators' HTTP API
  (:mod:`node.api.submissions`); the audit log names the token's label.

Both modes are a :class:`ModeratedNode`, which answers in the API's JSON
shapes, so each command is written once. Private parts only ever leave the
node sealed: ``show`` and ``publish`` open them here, with the moderator's key
file, and a published record is built from the coarse fields and what the
moderator writes (``--summary``), never from the narrative as it is.

Errors: :class:`~node.cli.common.CommandError` (exit 2) when a command cannot
run, :class:`~node.cli.common.CommandFailed` (exit 1) when the node refused a
decision.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Final, TypeVar

from node.cli.common import (
    CommandAdder,
    CommandError,
    CommandFailed,
    data_dir_of,
    table,
    usage,
)
from node.moderation.client import (
    LocalNode,
    ModeratedNode,
    RemoteNode,
    draft_body,
    open_private,
    redacted_body,
)
from node.moderation.submissions import (
    REJECT_REASONS,
    RETRACT_REASONS,
    SUBMISSION_ID_PATTERN,
    unfinished_fields,
)
from protocol.envelope import AUDIENCES
from protocol.errors import KeyFormatError
from protocol.fields import MAX_AREA_PRECISION
from protocol.sealing import ModeratorKey
from protocol.utc import utc_text
from storage.submissions import STATUSES

TOKEN_ENV: Final = "BANSCAN_TOKEN"  # noqa: S105 (the name of a variable, not a token)
OMITTABLE: Final = ("city", "agency", "area", "observed_on")
VERIFICATIONS: Final = ("unverified", "corroborated", "verified")
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})
T = TypeVar("T")


def cmd_list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 100_000:
        raise CommandError("--limit must be from 1 to 100000")
    answer = _with_node(args, lambda node: node.submissions(args.status, args.kind, args.limit))
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    rows = [
        (
            item["id"],
            item["kind"],
            item["received_on"],
            item["status"],
            item["triage"].get("country"),
            item["triage"].get("city"),
            item["triage"].get("category"),
            _consent(item["triage"]),
        )
        for item in answer["submissions"]
    ]
    headers = ("id", "kind", "received", "status", "country", "city", "category", "consent")
    if rows:
        print(table(headers, rows))
    print(", ".join(f"{n} {status}" for status, n in answer["counts"].items()))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    submission_id = _submission_id(args.id)
    key = _load_key(args.key)
    view = _with_node(args, lambda node: node.get(submission_id))
    private = open_private(view, key)
    public_view = {name: value for name, value in view.items() if name != "sealed"}
    if args.json:
        print(json.dumps({"submission": public_view, "private": private}, indent=2))
    else:
        _print_submission(public_view, private)
    if args.draft is not None:
        if private is None:
            raise CommandError("no draft: the private part was purged")
        draft = {"audience": "network", "body": draft_body(view, private)}
        _write_new(args.draft, json.dumps(draft, indent=2, ensure_ascii=False) + "\n")
        if not view["triage"].get("consent_publish"):
            print(
                "warning: the reporter did not consent to publication: the node will refuse "
                "to publish this draft",
                file=sys.stderr,
            )
        rewrite = (
            " Rewrite its summary: it is the reporter's narrative word for word, marked TODO."
            if view["kind"] == "incident"
            else ""
        )
        print(
            f"draft written to {args.draft}; publish it with banscan submissions publish "
            f"{submission_id} --body {args.draft} once edited.{rewrite} Take out names, "
            "contact details and anything that identifies the reporter or a bystander, and "
            "check area, audience and sources.",
            file=sys.stderr,
        )
    return 0


def _print_submission(view: dict[str, Any], private: dict[str, Any] | None) -> None:
    triage = view["triage"]
    print(f"submission    {view['id']} ({view['kind']}), received {view['received_on']}")
    print(f"status        {view['status']}" + (f" ({view['reason']})" if view["reason"] else ""))
    if view["record_id"]:
        print(f"record        {view['record_id']}")
    for name in ("occurred_on", "country", "city", "agency", "technology", "category"):
        if name in triage:
            print(f"{name:<13} {triage[name]}")
    publish = "yes" if triage.get("consent_publish") else "NO: do not publish"
    contact = "yes" if triage.get("consent_contact") else "NO: do not contact the reporter"
    print(f"may publish   {publish}")
    print(f"may contact   {contact}")
    if private is None:
        print("private part purged (its retention period ended): only the fields above remain")
        return
    print("-- private: never publish as it is --")
    for name, value in private.items():
        if name == "what_happened":
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{name:<13} {shown}")
    print("what happened:")
    for line in str(private.get("what_happened", "")).splitlines():
        print(f"  {line}")


def cmd_publish(args: argparse.Namespace) -> int:
    ids = [_submission_id(text) for text in args.ids]
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
        key = _load_key(args.key)

    async def run(node: ModeratedNode) -> int:
        failed = 0
        for submission_id in ids:
            try:
                if key is None:
                    answer = await node.publish(submission_id, audience, body)
                else:
                    answer = await _publish_built(node, submission_id, key, args)
            except (CommandFailed, CommandError) as exc:
                if len(ids) == 1:
                    raise
                print(f"not published {submission_id}: {exc}")
                failed += 1
                continue
            print(
                f"published {submission_id} as record {answer['record_id']} ({answer['audience']})"
            )
        return 1 if failed else 0

    return _with_node(args, run)


async def _publish_built(
    node: ModeratedNode, submission_id: str, key: ModeratorKey, args: argparse.Namespace
) -> dict[str, Any]:
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
    return await node.publish(submission_id, args.audience or "network", body)


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
    ids = [_submission_id(text) for text in args.ids]
    answer = _with_node(args, lambda node: node.reject(ids, args.reason))
    for submission_id in answer["rejected"]:
        print(f"rejected {submission_id} ({args.reason})")
    for submission_id, why in answer["skipped"].items():
        print(f"skipped {submission_id}: {why if why == 'not found' else f'it is {why}'}")
    return 1 if answer["skipped"] else 0


def cmd_retract(args: argparse.Namespace) -> int:
    submission_id = _submission_id(args.id)
    answer = _with_node(args, lambda node: node.retract(submission_id, args.reason))
    for record_id in answer["record_ids"]:
        print(f"retracted {submission_id}: retraction record {record_id} ({args.reason})")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    days = args.retention_days
    if days is not None and not 0 <= days <= 3650:
        raise CommandError("--retention-days must be from 0 to 3650")
    answer = _with_node(args, lambda node: node.purge(days))
    purged = answer["purged"]
    print(f"deleted the private part of {len(purged)} decided submission(s)")
    for submission_id in purged:
        print(f"  {submission_id}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    answer = _with_node(args, lambda node: node.audit())
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        rows = [
            (
                e["seq"],
                utc_text(e["at_ms"]),
                e["actor"],
                e["action"],
                e["submission"],
                json.dumps(e["detail"], sort_keys=True),
            )
            for e in answer["entries"]
        ]
        if rows:
            print(table(("seq", "at", "actor", "action", "submission", "detail"), rows))
        if answer["intact"]:
            print(f"hash chain intact ({len(rows)} entries)")
            if answer["entries"]:
                # Noted elsewhere now and then, it shows a chain rewritten from scratch.
                last = answer["entries"][-1]
                print(f"latest entry {last['seq']}, hash {last['hash']}")
        else:
            broken = answer["first_broken_seq"]
            print(f"hash chain BROKEN from entry {broken}: entries were removed or edited")
    return 0 if answer["intact"] else 1


# -- shared pieces --------------------------------------------------------------------------


def _with_node(
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


def _submission_id(text: str) -> str:
    if not re.fullmatch(SUBMISSION_ID_PATTERN, text):
        raise CommandError(f"{text[:40]!r} is not a submission id (sub_ and 16 letters)")
    return text


def _load_key(path: Path) -> ModeratorKey:
    try:
        return ModeratorKey.load(path)
    except KeyFormatError as exc:
        raise CommandError(exc.detail) from exc


def _write_new(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CommandError(f"{path} exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _consent(triage: dict[str, Any]) -> str:
    given = [n for n in ("publish", "contact") if triage.get(f"consent_{n}")]
    return "+".join(given) or "none"


# -- the parser -----------------------------------------------------------------------------


def add_submission_commands(
    command: CommandAdder, data_dir_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Register ``submissions`` with the CLI's parser."""
    submissions: argparse.ArgumentParser = command(
        "submissions",
        "Review reports from the public: list, read, publish, reject, retract; purge private "
        "parts; check the audit log. Works on a data directory (--data-dir) or on a running "
        f"node (--node URL with a moderator token in ${TOKEN_ENV}).",
        lambda _: usage(submissions),
    )
    group = submissions.add_subparsers(title="submissions commands", metavar="COMMAND")

    def node_options(sub: argparse.ArgumentParser) -> None:
        data_dir_option(sub)
        sub.add_argument(
            "--node",
            metavar="URL",
            help="work on a running node through its API instead of a data directory, "
            "e.g. https://node.example.org",
        )
        sub.add_argument(
            "--token",
            help=f"a moderator (or admin) token for --node (default: ${TOKEN_ENV}, which "
            "keeps it out of the shell history and the process list)",
        )

    sub = command(
        "list",
        "List submissions, oldest first: id, kind, day received, status, coarse fields and "
        "the reporter's consent; then how many are in each status.",
        cmd_list,
        group,
    )
    node_options(sub)
    sub.add_argument("--status", choices=STATUSES, help="only this status (default: all)")
    sub.add_argument("--kind", choices=("incident", "deployment"), help="only this kind")
    sub.add_argument(
        "--limit", type=int, default=100, help="at most this many, 1 to 100000 (default: 100)"
    )
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = command(
        "show",
        "Show a submission: its coarse fields and its private part (narrative, place, "
        "sources, contact), opened here with your moderator key file.",
        cmd_show,
        group,
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument(
        "--key", required=True, type=Path, metavar="FILE", help="your moderator key file"
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.add_argument(
        "--draft",
        type=Path,
        metavar="OUT",
        help="also write a proposed record (audience and body) to this new file, to edit and "
        "then publish with publish --body; an incident's summary is the narrative as it is, "
        "marked TODO: publishing refuses it until rewritten",
    )

    sub = command(
        "publish",
        "Publish a record from one or more submissions (or a correction of one already "
        "published). The record is built from the coarse fields, the point snapped to an area "
        "cell and your --summary; or taken from an edited draft with --body. The node "
        "refuses when the reporter did not consent to publication.",
        cmd_publish,
        group,
    )
    node_options(sub)
    sub.add_argument(
        "ids",
        nargs="+",
        metavar="ID",
        help="one or more submission ids, published in turn (e.g. a batch of camera "
        "sightings); each one's outcome is printed",
    )
    sub.add_argument(
        "--key", type=Path, metavar="FILE", help="your moderator key file (needed without --body)"
    )
    sub.add_argument(
        "--body",
        type=Path,
        metavar="FILE",
        help="publish this draft (from show --draft, edited) for one ID; its audience is used "
        "unless --audience is given",
    )
    sub.add_argument(
        "--audience", choices=AUDIENCES, help="who may receive the record (default: network)"
    )
    sub.add_argument(
        "--precision",
        type=int,
        default=MAX_AREA_PRECISION,
        metavar="N",
        help="characters of an incident's area geohash, 1 (coarsest) to 6 (about 1.2 km by "
        "0.6 km, the finest allowed; default: 6)",
    )
    sub.add_argument(
        "--summary",
        help="the incident's published summary, in your words (required for incidents: the "
        "reporter's narrative is never published as it is)",
    )
    sub.add_argument(
        "--omit",
        action="append",
        default=[],
        choices=OMITTABLE,
        help="leave this optional field out of the record (repeatable)",
    )
    sub.add_argument(
        "--verification",
        choices=VERIFICATIONS,
        help="an incident's verification status (default: unverified)",
    )
    sub.add_argument(
        "--include-sources",
        action="store_true",
        help="publish the links the reporter gave, once you have checked that none "
        "identifies them (a link can be their own post); left out by default",
    )

    sub = command(
        "reject",
        "Reject pending submissions: nothing is published. Prints those rejected, and those "
        "skipped with why (exit status 1 if any was skipped).",
        cmd_reject,
        group,
    )
    node_options(sub)
    sub.add_argument("ids", nargs="+", metavar="ID", help="submission ids")
    sub.add_argument("--reason", required=True, choices=REJECT_REASONS, help="why")

    sub = command(
        "retract",
        "Retract every record published from a submission (its corrections too): a "
        "retraction of each goes to every node that received it.",
        cmd_retract,
        group,
    )
    node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument("--reason", required=True, choices=RETRACT_REASONS, help="why")

    sub = command(
        "purge",
        "Delete now the private part of every submission decided more than the retention "
        "period ago (the node also does this every hour); print how many.",
        cmd_purge,
        group,
    )
    node_options(sub)
    sub.add_argument(
        "--retention-days",
        type=int,
        metavar="N",
        help="days to keep the private part after the decision, 0 to 3650 (default: the "
        "node's [submissions] retention_days)",
    )

    sub = command(
        "audit",
        "Print the moderation audit log (who did what, when, to which submission) and whether "
        "its hash chain is intact (exit status 1 if not).",
        cmd_audit,
        group,
    )
    node_options(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")
