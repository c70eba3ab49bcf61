"""``banscan moderators``: the moderator keys reports from the public are sealed to.

``keygen`` runs on a moderator's own machine, where the private key stays; it
needs no data directory. ``add``, ``list`` and ``remove`` work on the node's
data directory, on the server: there is deliberately no API for them, so a
stolen moderator token cannot make future reports readable by another key.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from node.cli.common import (
    CommandError,
    cli_actor,
    data_dir_of,
    run_on_store,
    table,
)
from node.cli.registrar import Registrar
from node.moderation.keyfile import save_moderator_key
from protocol.errors import KeyFormatError
from protocol.sealing import (
    KEY_FILE_TYPE,
    MAX_RECIPIENTS,
    PUBLIC_PREFIX,
    ModeratorKey,
    ModeratorPublicKey,
)
from protocol.utc import utc_text
from storage.store import Store


def register(cli: Registrar) -> None:
    """Add ``moderators keygen|add|list|remove``."""
    moderators = cli.group(
        "moderators", "Manage the moderator keys that reports from the public are sealed to."
    )
    keygen = moderators.command(
        "keygen",
        "Create a moderator key pair on the moderator's own machine: write the private key "
        "file (mode 0600) and print the public key and its id, for the node's operator to "
        "add. No data directory is needed; the private key never goes to the node.",
        cmd_keygen,
    )
    keygen.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE",
        help="the private key file to create; an existing file is never overwritten",
    )
    add = moderators.command(
        "add",
        "Add a moderator's public key: reports received from now on are sealed to it too.",
        cmd_moderators_add,
        data_dir=True,
    )
    add.add_argument(
        "pubkey",
        metavar="PUBKEY",
        help=f"the public key ({PUBLIC_PREFIX}...), a file holding it, or a key file made "
        "by keygen (only its public part is taken; the file must not stay on the server)",
    )
    add.add_argument("--label", default="", help="who holds the key, e.g. a name (default: none)")
    listed = moderators.command(
        "list", "List the moderator keys reports are sealed to.", cmd_moderators_list, data_dir=True
    )
    listed.add_argument("--json", action="store_true", help="print JSON")
    remove = moderators.command(
        "remove",
        "Remove a moderator key: new reports are no longer sealed to it (earlier ones stay "
        "readable with it).",
        cmd_moderators_remove,
        data_dir=True,
    )
    remove.add_argument("key_id", metavar="KEY_ID", help="the key's id, as moderators list shows")


def cmd_keygen(args: argparse.Namespace) -> int:
    out: Path = args.out
    public_out = out.with_name(out.name + ".pub")
    for path in (out, public_out):
        if path.exists():
            raise CommandError(f"{path} exists; refusing to overwrite a key file")
    key = ModeratorKey.generate()
    try:
        save_moderator_key(key, out)
        public_out.write_text(key.public.text + "\n", encoding="utf-8")
    except FileExistsError as exc:
        raise CommandError(f"{out} exists; refusing to overwrite a key file") from exc
    except OSError as exc:
        raise CommandError(f"cannot write {exc.filename}: {exc.strerror or exc}") from exc
    print(f"public key  {key.public.text}")
    print(f"key id      {key.public.key_id}")
    print(f"private key written to {out} (readable by you only)")
    print(f"public key written to {public_out}")
    print(
        "Keep the private key file on your own machine, and back it up: it opens every report "
        f"sealed to you. Never copy it to the node. Give the node's operator {public_out.name} "
        "(or the public key above); they run, on the node's machine, with their node's data "
        "directory as NODE-DIR:\n"
        f"  banscan moderators add --data-dir NODE-DIR {public_out.name} --label YOUR-NAME"
    )
    return 0


def parse_public_key(text: str) -> tuple[ModeratorPublicKey, bool]:
    """PUBKEY as given to ``moderators add``: (the key, whether it came from a private key file)."""
    if text.strip().startswith(PUBLIC_PREFIX):
        return _parse_public(text, "PUBKEY"), False
    path = Path(text)
    if not path.is_file():
        raise CommandError(
            f"PUBKEY must be a moderator public key ({PUBLIC_PREFIX}...) or a file holding "
            f"one; {text[:60]!r} is neither"
        )
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read it: {exc}") from exc
    try:
        data = json.loads(content)
    except ValueError:
        return _parse_public(content, str(path)), False
    if not isinstance(data, dict) or data.get("type") != KEY_FILE_TYPE:
        raise CommandError(f"{path}: neither a public key nor a moderator key file")
    return _parse_public(str(data.get("public", "")), str(path)), True


def _parse_public(text: str, source: str) -> ModeratorPublicKey:
    try:
        return ModeratorPublicKey.parse(text)
    except KeyFormatError as exc:
        raise CommandError(f"{source}: {exc.detail}") from exc


def cmd_moderators_add(args: argparse.Namespace) -> int:
    key, from_private_file = parse_public_key(args.pubkey)
    if from_private_file:
        print(
            f"warning: {args.pubkey} is a moderator's PRIVATE key file. Only its public key "
            "was taken. The file must not stay on this server: move it back to the "
            "moderator's machine and delete it here.",
            file=sys.stderr,
        )

    async def add(store: Store) -> bool:
        if len(await store.submissions.keys()) >= MAX_RECIPIENTS:
            raise CommandError(
                f"this node already has {MAX_RECIPIENTS} moderator keys, the most a report "
                "can be sealed to; remove one first (banscan moderators remove)"
            )
        return await store.submissions.add_key(key.key_id, key.text, args.label, actor=cli_actor())

    if run_on_store(data_dir_of(args), add):
        print(f"added moderator key {key.key_id}" + (f" ({args.label})" if args.label else ""))
        print("reports received from now on are sealed to it; earlier ones are not")
    else:
        print(f"moderator key {key.key_id} was already there")
    return 0


def cmd_moderators_list(args: argparse.Namespace) -> int:
    async def keys(store: Store) -> list[dict[str, Any]]:
        return [
            {"key_id": k.key_id, "label": k.label, "added_ms": k.added_ms, "public": k.public}
            for k in await store.submissions.keys()
        ]

    views = run_on_store(data_dir_of(args), keys)
    if args.json:
        print(json.dumps({"moderators": views}, indent=2))
        return 0
    if not views:
        print("no moderator keys: the node takes no reports (add one: banscan moderators add)")
        return 0
    rows = [(v["key_id"], v["label"], utc_text(v["added_ms"], "date")) for v in views]
    print(table(("key id", "label", "added"), rows))
    return 0


def cmd_moderators_remove(args: argparse.Namespace) -> int:
    actor = cli_actor()
    if not run_on_store(
        data_dir_of(args), lambda store: store.submissions.remove_key(args.key_id, actor=actor)
    ):
        raise CommandError(f"no moderator key {args.key_id!r} on this node")
    print(f"removed moderator key {args.key_id}; new reports are no longer sealed to it")
    return 0
