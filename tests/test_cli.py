"""The ``banscan`` command line, run as a child process: init, help, token create, publish."""

import argparse
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.cli import build_parser, main
from node.config import CONFIG_FILE, DATABASE_FILE, KEY_FILE, Config, load_config
from node.datadir import DataDir
from tests.factories import deployment_body, incident_body, seeded_key
from tests.nodeproc import banscan, running_node

KEY_TEXT = re.compile(r"ed25519:[A-Za-z0-9_-]{43}")
RECORD_ID = re.compile(r"[0-9a-f]{64}")
STEWARD_A = seeded_key("steward a").text
STEWARD_B = seeded_key("steward b").text


def stored_ids(node_dir: Path) -> list[str]:
    """Record ids in the node's database, read with plain sqlite3 (none if there is none)."""
    database = node_dir / DATABASE_FILE
    if not database.exists():
        return []
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute("SELECT lower(hex(id)) FROM records ORDER BY rid")]
    finally:
        db.close()


def post_json(url: str, payload: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """An initialised data directory (made by the library; ``init`` itself is tested below)."""
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    return directory


# --- init -------------------------------------------------------------------------------------


def test_init_writes_a_private_key_and_the_config(tmp_path: Path) -> None:
    directory = tmp_path / "chapter"
    result = banscan(
        "init",
        "--data-dir",
        str(directory),
        "--network",
        "testnet",
        "--steward",
        STEWARD_A,
        "--steward",
        STEWARD_B,
    )
    assert result.returncode == 0, result.stderr
    key_file = directory / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    written = tomllib.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    assert written["network"]["id"] == "testnet"
    assert written["network"]["stewards"] == [STEWARD_A, STEWARD_B]
    config = load_config(directory, {})
    assert config.network.id == "testnet"
    assert config.network.stewards == [STEWARD_A, STEWARD_B]
    last_line = result.stdout.splitlines()[-1]
    assert KEY_TEXT.fullmatch(last_line)
    assert last_line == DataDir(directory).load_key().text


def test_init_defaults_to_the_main_network_and_no_stewards(tmp_path: Path) -> None:
    directory = tmp_path / "chapter"
    result = banscan("init", "--data-dir", str(directory))
    assert result.returncode == 0, result.stderr
    assert load_config(directory, {}) == Config()
    assert load_config(directory, {}).network.id == "banthescan"
    assert KEY_TEXT.fullmatch(result.stdout.splitlines()[-1])


def test_init_refuses_to_replace_a_node(node_dir: Path) -> None:
    key_before = (node_dir / KEY_FILE).read_bytes()
    config_before = (node_dir / CONFIG_FILE).read_bytes()
    result = banscan("init", "--data-dir", str(node_dir), "--network", "other")
    assert result.returncode == 2
    assert "already" in result.stderr
    assert "Traceback" not in result.stderr
    assert (node_dir / KEY_FILE).read_bytes() == key_before
    assert (node_dir / CONFIG_FILE).read_bytes() == config_before


@pytest.mark.parametrize("network", ["BanTheScan", "x" * 64])
def test_init_rejects_a_bad_network_id(tmp_path: Path, network: str) -> None:
    directory = tmp_path / "chapter"
    result = banscan("init", "--data-dir", str(directory), "--network", network)
    assert result.returncode == 2
    assert "--network" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (directory / KEY_FILE).exists()


@pytest.mark.parametrize(
    "steward",
    ["ed25519:nope", STEWARD_A.replace("ed25519:", "ed448:")],
)
def test_init_rejects_a_bad_steward_key(tmp_path: Path, steward: str) -> None:
    directory = tmp_path / "chapter"
    result = banscan(
        "init", "--data-dir", str(directory), "--steward", STEWARD_A, "--steward", steward
    )
    assert result.returncode == 2
    assert "--steward" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (directory / KEY_FILE).exists()


# --- help -------------------------------------------------------------------------------------


def command_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and sub-command of the real parser, so new ones are covered."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(command_parsers(sub, (*path, name)))
    return found


COMMANDS = command_parsers(build_parser())


def test_the_cli_has_the_designed_commands() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    expected = {"init", "run", "status", "token create", "publish", "export", "import", "verify"}
    assert expected <= paths


@pytest.fixture
def process_umask() -> Iterator[None]:
    """``main`` sets the process umask; put this process's back afterwards."""
    mask = os.umask(0o077)
    os.umask(mask)
    yield
    os.umask(mask)


@pytest.mark.usefixtures("process_umask")
@pytest.mark.parametrize(
    ("path", "parser"), COMMANDS, ids=[" ".join(p) or "banscan" for p, _ in COMMANDS]
)
def test_help_exits_0_and_mentions_every_option(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process: the same parser as the console script, without a 0.5 s start-up per command.
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: {' '.join(('banscan', *path))}")
    for action in parser._actions:
        for option in action.option_strings:
            assert option in shown, f"{option} missing from the help of {path}"
        if isinstance(action, argparse._SubParsersAction):
            for name in action.choices:
                assert name in shown, f"command {name} missing from the help of {path}"


def test_help_from_the_command_line() -> None:
    result = banscan("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: banscan")


def test_a_command_group_without_its_command_prints_help_and_exits_2() -> None:
    result = banscan("token")
    assert result.returncode == 2
    assert "create" in result.stdout


def test_a_reader_that_goes_away_ends_the_command_quietly(node_dir: Path) -> None:
    """``banscan status | head -1``: no traceback when the pipe is closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the command writes a byte
    try:
        result = subprocess.run(
            [sys.executable, "-m", "node.cli", "status", "--data-dir", str(node_dir)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode == 141


# --- token create -----------------------------------------------------------------------------


def test_token_create_prints_only_a_token_that_works(node_dir: Path) -> None:
    with running_node(node_dir) as node:
        # Created while the node runs: the CLI and the server share the database.
        publisher = banscan("token", "create", "--data-dir", str(node_dir), "--role", "publisher")
        analyst = banscan(
            "token", "create", "--data-dir", str(node_dir), "--role", "analyst", "--label", "ci"
        )
        for result in (publisher, analyst):
            assert result.returncode == 0, result.stderr
            lines = result.stdout.splitlines()
            assert len(lines) == 1
            assert re.fullmatch(r"\S{32,}", lines[0])
        payload = {"kind": "incident", "audience": "public", "body": incident_body()}
        records = f"{node.url}/api/v1/records"
        status, created = post_json(records, payload, publisher.stdout.strip())
        assert status == 201, created
        status, problem = post_json(records, payload, analyst.stdout.strip())
        assert status == 403, problem
        status, problem = post_json(records, payload, "bst_not-a-token")
        assert status == 401, problem
        assert node.stop() == 0
    assert stored_ids(node_dir) == [created["id"]]


@pytest.mark.parametrize(
    ("role_args", "complaint"),
    [(["--role", "root"], "invalid choice"), ([], "required")],
    ids=["unknown", "missing"],
)
def test_token_create_needs_a_known_role(
    node_dir: Path, role_args: list[str], complaint: str
) -> None:
    result = banscan("token", "create", "--data-dir", str(node_dir), *role_args)
    assert result.returncode == 2
    assert "--role" in result.stderr
    assert complaint in result.stderr
    assert result.stdout == ""


def test_token_revoke_stops_a_token_at_once_on_a_running_node(node_dir: Path) -> None:
    with running_node(node_dir) as node:
        token = banscan("token", "create", "--data-dir", str(node_dir), "--role", "publisher")
        assert token.returncode == 0, token.stderr
        payload = {"kind": "incident", "audience": "public", "body": incident_body()}
        records = f"{node.url}/api/v1/records"
        status, _ = post_json(records, payload, token.stdout.strip())
        assert status == 201
        revoked = banscan("token", "revoke", "--data-dir", str(node_dir), input_text=token.stdout)
        assert revoked.returncode == 0, revoked.stderr
        status, problem = post_json(records, payload, token.stdout.strip())
        assert status == 401, problem
        again = banscan("token", "revoke", "--data-dir", str(node_dir), input_text=token.stdout)
        assert again.returncode == 2
        assert "no such token" in again.stderr
    empty = banscan("token", "revoke", "--data-dir", str(node_dir), input_text="")
    assert empty.returncode == 2
    assert "standard input" in empty.stderr


# --- publish ----------------------------------------------------------------------------------


def publish_args(node_dir: Path, kind: str = "incident", audience: str = "public") -> list[str]:
    return ["publish", "--data-dir", str(node_dir), "--kind", kind, "--audience", audience]


def test_publish_from_a_file_prints_the_record_id(node_dir: Path, tmp_path: Path) -> None:
    body_file = tmp_path / "incident.json"
    body_file.write_text(json.dumps(incident_body()), encoding="utf-8")
    result = banscan(*publish_args(node_dir), str(body_file))
    assert result.returncode == 0, result.stderr
    assert RECORD_ID.fullmatch(result.stdout.strip())
    assert len(result.stdout.splitlines()) == 1
    assert stored_ids(node_dir) == [result.stdout.strip()]


def test_publish_from_stdin_appends_to_the_feed(node_dir: Path) -> None:
    first = banscan(*publish_args(node_dir), "-", input_text=json.dumps(incident_body()))
    second = banscan(
        *publish_args(node_dir, "deployment", "network"),
        "-",
        input_text=json.dumps(deployment_body()),
    )
    third = banscan(*publish_args(node_dir), "-", input_text=json.dumps(incident_body(city="Oslo")))
    ids = [r.stdout.strip() for r in (first, second, third)]
    assert all(RECORD_ID.fullmatch(i) for i in ids), [r.stderr for r in (first, second, third)]
    assert stored_ids(node_dir) == ids
    status = banscan("status", "--data-dir", str(node_dir), "--json")
    assert status.returncode == 0, status.stderr
    feeds = {f["audience"]: f["max_seq"] for f in json.loads(status.stdout)["feeds"]}
    assert feeds == {"public": 2, "network": 1}


def test_publish_rejects_invalid_json(node_dir: Path) -> None:
    result = banscan(*publish_args(node_dir), "-", input_text='{"country": "US",}')
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert stored_ids(node_dir) == []


INVALID_BODIES = [
    (incident_body(lat=40.75), "lat"),
    (incident_body(area="dr5ru7x"), "area"),
    ({k: v for k, v in incident_body().items() if k != "summary"}, "summary"),
    ([incident_body()], "JSON object"),
]


@pytest.mark.parametrize(("body", "named"), INVALID_BODIES)
def test_publish_rejects_an_invalid_body_naming_the_field(
    node_dir: Path, body: Any, named: str
) -> None:
    result = banscan(*publish_args(node_dir), "-", input_text=json.dumps(body))
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert stored_ids(node_dir) == []


def test_publish_names_a_missing_file(node_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = banscan(*publish_args(node_dir), str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_publish_rejects_an_unknown_kind(node_dir: Path) -> None:
    result = banscan(*publish_args(node_dir, kind="rumour"), "-", input_text="{}")
    assert result.returncode == 2
    assert "--kind" in result.stderr


# --- a data directory that is not there --------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["token", "create", "--role", "admin"],
        ["publish", "--kind", "incident", "--audience", "public", "-"],
        ["import", "bundle"],
    ],
    ids=lambda c: c[0],
)
def test_a_missing_data_dir_says_to_run_init(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere"
    result = banscan(*command, "--data-dir", str(missing), input_text="{}")
    assert result.returncode == 2
    assert f"banscan init --data-dir {missing}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not missing.exists()
