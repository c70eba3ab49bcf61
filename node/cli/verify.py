"""``banscan verify``: check a signed-record bundle offline, with no node at all."""

import argparse
from pathlib import Path

from node.cli.common import CommandError
from node.cli.records import print_problems
from node.cli.registrar import Registrar
from node.config import LIMITS_CEILING
from node.exports.bundles import verify_bundle


def register(cli: Registrar) -> None:
    """Add ``verify``, which needs no data directory."""
    ver = cli.command("verify", "Check a signed-record bundle offline, with no node.", cmd_verify)
    ver.add_argument("file", metavar="FILE", type=Path)
    ver.add_argument(
        "--network", metavar="ID", help="require this network id (default: the bundle's own)"
    )


def cmd_verify(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    report = verify_bundle(args.file, LIMITS_CEILING, args.network)
    good = report.checked - sum(1 for ref, _ in report.bad if not ref.startswith("#"))
    print(
        f"{args.file}: {report.checked} records checked, {good} good, {len(report.bad)} bad "
        f"(network {report.network_id or 'unknown'})"
    )
    return print_problems(report)
