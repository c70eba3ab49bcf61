"""``submissions list``, ``show`` and ``audit``: reading submissions and the audit log."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from node.cli.common import CommandError, table
from node.cli.submissions.arguments import key_of, parse_submission_id
from node.cli.submissions.decisions import default_audience
from node.cli.submissions.drafts import draft_body, open_private
from node.cli.submissions.nodes import ModeratedNode, with_node
from protocol.utc import utc_text


def cmd_list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 100_000:
        raise CommandError("--limit must be from 1 to 100000")
    answer = with_node(args, lambda node: node.submissions(args.status, args.kind, args.limit))
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
    submission_id = parse_submission_id(args.id)
    key = key_of(args.key)

    async def fetch(node: ModeratedNode) -> tuple[dict[str, Any], str]:
        view = await node.get(submission_id)
        audience = (await default_audience(node, view))[0] if args.draft else ""
        return view, audience

    view, audience = with_node(args, fetch)
    private = open_private(view, key)
    public_view = {name: value for name, value in view.items() if name != "sealed"}
    if args.json:
        print(json.dumps({"submission": public_view, "private": private}, indent=2))
    else:
        _print_submission(public_view, private)
    if args.draft is not None:
        if private is None:
            raise CommandError("no draft: the private part was purged")
        draft = {"audience": audience, "body": draft_body(view, private)}
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


def cmd_audit(args: argparse.Namespace) -> int:
    answer = with_node(args, lambda node: node.audit())
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
