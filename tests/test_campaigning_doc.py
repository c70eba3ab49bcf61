"""docs/campaigning.md's commands run as written against a real node's data directory.

Each ``$ banscan ...`` line of the campaign sections runs through the CLI; the JSON
bodies are the page's own, saved under the names the page gives them. The page
shows the ids ``publish`` printed: the ids it writes in later bodies (``record``,
``supersedes``) are replaced by the ids this run printed, as a reader would.
"""

import itertools
import json
import os
import re
import shlex
import sqlite3
from pathlib import Path

import msgpack
import pytest

from node.cli import main
from node.datadir import DataDir
from protocol.kinds import validate_body
from tests.test_docs import DOCS, parse_markdown, read

PAGE = DOCS / "campaigning.md"
# The OpenStreetMap section needs an extract; tests/test_osm*.py cover its commands.
OSM_SECTION = "## Starting a chapter's map from OpenStreetMap"
HEX_ID = re.compile(r"\b[0-9a-f]{64}\b")


def _campaign_text() -> str:
    text = read(PAGE)
    return text[: text.index(OSM_SECTION)]


def test_every_campaign_body_is_saved_as_a_file() -> None:
    _, blocks = parse_markdown(_campaign_text())
    for block in blocks:
        if block.lang == "json":
            saved = re.search(r"`([\w-]+)\.json`", block.label)
            assert saved, f"docs/campaigning.md: a JSON body not saved as a file: {block.label}"


def test_campaign_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("BANSCAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--data-dir", "./mynode", "--network", "banthescan"]) == 0
    _, blocks = parse_markdown(_campaign_text())
    bodies: dict[str, str] = {}
    printed: dict[str, str] = {}  # the id the page shows -> the id this run printed
    published: dict[str, tuple[str, str]] = {}  # file -> (kind, the id this run printed)
    ran: list[str] = []  # the other commands, whose output is compared with the page's
    for block in blocks:
        if block.lang == "json":
            saved = re.search(r"`([\w-]+\.json)`", block.label)
            assert saved is not None
            bodies[saved.group(1)] = block.text
            continue
        if block.lang != "console":
            continue
        lines = block.text.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("$ banscan "):
                continue
            argv = shlex.split(line.removeprefix("$ banscan "))
            shown_lines = list(
                itertools.takewhile(lambda t: not t.startswith("$ "), lines[index + 1 :])
            )
            if argv[0] != "publish":
                capsys.readouterr()
                assert main(argv) == 0, f"banscan {line} failed: {capsys.readouterr().err}"
                said = capsys.readouterr().out
                assert said.splitlines() == shown_lines, f"{line} printed:\n{said}"
                ran.append(argv[0])
                continue
            file_name = argv[-1]
            body = HEX_ID.sub(lambda m: printed.get(m.group(0), m.group(0)), bodies[file_name])
            (tmp_path / file_name).write_text(body, encoding="utf-8")
            kind = argv[argv.index("--kind") + 1]
            validate_body(kind, json.loads(body))
            capsys.readouterr()
            assert main(argv) == 0, f"banscan {line} failed: {capsys.readouterr().err}"
            got = capsys.readouterr().out.strip()
            shown = shown_lines[0].strip()
            assert HEX_ID.fullmatch(got), got
            assert HEX_ID.fullmatch(shown), f"docs/campaigning.md shows no id after {line}"
            printed[shown] = got
            published[file_name] = (kind, got)
    assert ran == ["stats"]
    assert {kind for kind, _ in published.values()} == {
        "agency",
        "records_request",
        "policy",
        "action",
    }
    with sqlite3.connect(DataDir(tmp_path / "mynode").database) as db:

        def stored(file_name: str) -> tuple[dict[str, object], bytes | None]:
            record_id = bytes.fromhex(published[file_name][1])
            body, superseded_by = db.execute(
                "SELECT b.body, r.superseded_by FROM records r JOIN bodies b ON b.rid = r.rid"
                " WHERE r.id = ?",
                (record_id,),
            ).fetchone()
            return msgpack.unpackb(body, raw=False), superseded_by

        # The node filled due_on from its per-law table, as the page says.
        first, replaced_by = stored("request.json")
        assert first["due_on"] == "2026-01-12"
        assert replaced_by is not None
        second, current = stored("request-2.json")
        assert second["status"] == "partially_completed"
        assert current is None
        assert stored("policy.json")[1] is not None
        assert stored("policy-2.json")[0]["status"] == "passed"
        agency_id = published["agency.json"][1]
        assert second["agency"] == {"name": "NYPD", "record": agency_id}
