"""The ``banscan submissions`` commands and their options."""

import argparse
from pathlib import Path

from node.cli.registrar import Registrar
from node.cli.submissions import decisions, reading
from node.cli.submissions.desk import register_desk
from node.cli.submissions.nodes import TOKEN_ENV
from node.moderation.submissions import REJECT_REASONS, RETRACT_REASONS
from protocol.envelope import AUDIENCES
from protocol.fields import MAX_AREA_PRECISION
from storage.submissions import STATUSES

OMITTABLE = ("city", "agency", "area", "observed_on")
VERIFICATIONS = ("unverified", "corroborated", "verified")


def register(cli: Registrar) -> None:
    """Add ``submissions list|show|publish|reject|retract|purge|audit``, and the desk's
    ``claim|release|note|ask|duplicate|history`` (:mod:`.desk`)."""
    submissions = cli.group(
        "submissions",
        "Review reports from the public: list, read, publish, reject, retract; claim, note, "
        "ask the reporter, mark duplicates; purge private parts; check the audit log. Works "
        "on a data directory (--data-dir) or on a running "
        f"node (--node URL with a moderator token in ${TOKEN_ENV}).",
    )
    _add_list(submissions)
    _add_show(submissions)
    _add_publish(submissions)
    _add_reject(submissions)
    _add_retract(submissions)
    _add_purge(submissions)
    _add_audit(submissions)
    register_desk(submissions, _node_options)


def _node_options(sub: argparse.ArgumentParser) -> None:
    """``--node`` and ``--token``, after ``--data-dir``: where the node to work on is."""
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


def _add_list(submissions: Registrar) -> None:
    sub = submissions.command(
        "list",
        "List submissions, oldest first: id, kind, day received, status, coarse fields and "
        "the reporter's consent; then how many are in each status.",
        reading.cmd_list,
        data_dir=True,
    )
    _node_options(sub)
    sub.add_argument("--status", choices=STATUSES, help="only this status (default: all)")
    sub.add_argument("--kind", choices=("incident", "deployment"), help="only this kind")
    sub.add_argument(
        "--limit", type=int, default=100, help="at most this many, 1 to 100000 (default: 100)"
    )
    sub.add_argument("--json", action="store_true", help="print JSON")


def _add_show(submissions: Registrar) -> None:
    sub = submissions.command(
        "show",
        "Show a submission: its coarse fields and its private part (narrative, place, "
        "sources, contact), opened here with your moderator key file.",
        reading.cmd_show,
        data_dir=True,
    )
    _node_options(sub)
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


def _add_publish(submissions: Registrar) -> None:
    sub = submissions.command(
        "publish",
        "Publish a record from one or more submissions (or a correction of one already "
        "published). The record is built from the coarse fields, the point snapped to an area "
        "cell and your --summary; or taken from an edited draft with --body. The node "
        "refuses when the reporter did not consent to publication.",
        decisions.cmd_publish,
        data_dir=True,
    )
    _node_options(sub)
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
        "--audience",
        choices=AUDIENCES,
        help="who may receive the record (default, printed as such: for a first publication, "
        "public for a deployment and the node's [moderation] incident_audience, network unless "
        "set, for an incident; for a correction, the audience of the record it corrects, which "
        "a correction may widen but never narrow)",
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


def _add_reject(submissions: Registrar) -> None:
    sub = submissions.command(
        "reject",
        "Reject pending submissions: nothing is published. Prints those rejected, and those "
        "skipped with why (exit status 1 if any was skipped).",
        decisions.cmd_reject,
        data_dir=True,
    )
    _node_options(sub)
    sub.add_argument("ids", nargs="+", metavar="ID", help="submission ids")
    sub.add_argument("--reason", required=True, choices=REJECT_REASONS, help="why")


def _add_retract(submissions: Registrar) -> None:
    sub = submissions.command(
        "retract",
        "Retract every record published from a submission (its corrections too): a "
        "retraction of each goes to every node that received it.",
        decisions.cmd_retract,
        data_dir=True,
    )
    _node_options(sub)
    sub.add_argument("id", metavar="ID", help="the submission's id (sub_...)")
    sub.add_argument("--reason", required=True, choices=RETRACT_REASONS, help="why")


def _add_purge(submissions: Registrar) -> None:
    sub = submissions.command(
        "purge",
        "Delete now the private part of every submission decided more than the retention "
        "period ago (the node also does this every hour); print how many.",
        decisions.cmd_purge,
        data_dir=True,
    )
    _node_options(sub)
    sub.add_argument(
        "--retention-days",
        type=int,
        metavar="N",
        help="days to keep the private part after the decision, 0 to 3650 (default: the "
        "node's [submissions] retention_days)",
    )


def _add_audit(submissions: Registrar) -> None:
    sub = submissions.command(
        "audit",
        "Print the moderation audit log (who did what, when, to which submission) and whether "
        "its hash chain is intact (exit status 1 if not).",
        reading.cmd_audit,
        data_dir=True,
    )
    _node_options(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")
