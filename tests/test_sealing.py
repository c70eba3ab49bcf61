"""Sealed boxes and moderator keys: only a moderator's private key opens a submission."""

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import msgpack
import pytest

from node.moderation.keyfile import load_moderator_key, save_moderator_key
from protocol.errors import KeyFormatError, MalformedError
from protocol.sealing import (
    PUBLIC_PREFIX,
    ModeratorKey,
    ModeratorPublicKey,
    SealingError,
    box_key_ids,
    seal,
)

ALICE = ModeratorKey.generate()
BOB = ModeratorKey.generate()
MALLORY = ModeratorKey.generate()


def test_every_recipient_opens_the_box_and_nobody_else() -> None:
    box = seal(b"the narrative", [ALICE.public, BOB.public], b"sub_1")

    assert ALICE.open(box, b"sub_1") == b"the narrative"
    assert BOB.open(box, b"sub_1") == b"the narrative"
    assert box_key_ids(box) == sorted([ALICE.public.key_id, BOB.public.key_id])
    with pytest.raises(SealingError, match="not sealed to"):
        MALLORY.open(box, b"sub_1")


def test_same_plaintext_seals_differently_each_time() -> None:
    first = seal(b"same", [ALICE.public], b"sub_1")
    second = seal(b"same", [ALICE.public], b"sub_1")

    assert first != second
    assert b"same" not in first


def test_a_box_moved_to_another_submission_does_not_open() -> None:
    box = seal(b"secret", [ALICE.public], b"sub_1")

    with pytest.raises(SealingError):
        ALICE.open(box, b"sub_2")


@pytest.mark.parametrize("position", [-1, -20, 40, 1200])
def test_a_damaged_box_does_not_open(position: int) -> None:
    box = bytearray(seal(b"secret", [ALICE.public], b"sub_1"))
    box[position] ^= 0x01

    with pytest.raises((SealingError, MalformedError)):
        ALICE.open(bytes(box), b"sub_1")


def test_a_wrapped_key_swapped_in_from_another_box_does_not_open() -> None:
    one = seal(b"one", [ALICE.public], b"sub_1")
    two = seal(b"two", [MALLORY.public, ALICE.public], b"sub_1")

    version, _, nonce, ciphertext = msgpack.unpackb(one)
    _, wrapped_two, _, _ = msgpack.unpackb(two)
    forged = msgpack.packb([version, wrapped_two, nonce, ciphertext])

    with pytest.raises(SealingError):
        ALICE.open(forged, b"sub_1")


def test_garbage_is_a_malformed_box() -> None:
    with pytest.raises(MalformedError):
        ALICE.open(b"\x93not a box", b"sub_1")


def test_seal_needs_a_recipient() -> None:
    with pytest.raises(ValueError, match="at least one"):
        seal(b"x", [], b"sub_1")


def test_public_key_text_round_trips_and_bad_texts_are_refused() -> None:
    text = ALICE.public.text

    assert text.startswith(PUBLIC_PREFIX)
    assert ModeratorPublicKey.parse(text) == ALICE.public
    assert ModeratorPublicKey.parse(f"  {text}\n") == ALICE.public
    for bad, message in [
        ("ed25519:" + text[len(PUBLIC_PREFIX) :], "must start with"),
        (text[:-4], "bytes, not|base64url"),
        (text + "=", "base64url"),
        (PUBLIC_PREFIX + "A" * 10, "bytes, not|base64url"),
    ]:
        with pytest.raises(KeyFormatError, match=message):
            ModeratorPublicKey.parse(bad)


def test_key_file_is_private_never_overwritten_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "moderator.key"
    save_moderator_key(ALICE, path)

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_moderator_key(path)
    assert loaded.public == ALICE.public
    assert loaded.open(seal(b"hi", [ALICE.public], b"c"), b"c") == b"hi"
    with pytest.raises(FileExistsError):
        save_moderator_key(BOB, path)


def test_damaged_key_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    good = json.loads(ALICE.file_text())
    cases = {
        "not json": "not JSON",
        json.dumps({"type": "something else"}): "not a banscan moderator key",
        json.dumps({**good, "version": 2}): "version",
        json.dumps({**good, "x25519": "short"}): "damaged",
        json.dumps({**good, "public": BOB.public.text}): "does not match",
    }
    for index, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"key{index}"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(KeyFormatError, match=message):
            load_moderator_key(path)
    with pytest.raises(KeyFormatError, match="cannot read"):
        load_moderator_key(tmp_path / "missing")


def test_key_ids_are_hex_so_a_command_line_never_takes_one_for_an_option() -> None:
    ids = [ModeratorKey.generate().public.key_id for _ in range(200)]

    assert all(re.fullmatch(r"[0-9a-f]{12}", key_id) for key_id in ids)
    assert ALICE.public.key_id == hashlib.sha256(ALICE.public.raw).hexdigest()[:12]
