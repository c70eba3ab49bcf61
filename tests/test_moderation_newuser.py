"""What a new moderator met in the moderation flow, end to end with the real CLI.

The audience a record goes to is said in the output when it was not given; a
correction may widen it and never narrow it; a sighting keeps the agency and the
technology its reporter gave; the public half of a key given as ``--key`` is named
as such; the hint ``moderators keygen`` prints runs as written.

Most commands run in this process (``node.cli.main``, as tests/test_cli_desk.py
does): a child process costs 1 to 3 s on a loaded machine, and these tests are about
what the commands say and do. The key and hint tests run ``banscan`` as a person
does, in a child process.
"""

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from node.moderation.keyfile import save_moderator_key
from node.web.report import submission_payload
from tests.inprocess import cli, good
from tests.moderating import ALICE, new_node, submit
from tests.nodeproc import banscan, running_node

SUMMARY = "Live facial recognition used in a stop at Leeds station."


def report(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": "incident",
        "what_happened": "I was stopped at Leeds station after a camera van matched my face.",
        "occurred_on": "2026-03-02",
        "country": "GB",
        "city": "Leeds",
        "place": "Leeds railway station",
        "lat": 53.7950,
        "lon": -1.5476,
        "agency": "West Yorkshire Police",
        "technology": "live_frt",
        "category": "stop_and_search",
        "consent_publish": True,
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def sighting(**overrides: Any) -> dict[str, Any]:
    base = {"kind": "deployment", "category": None, "what_happened": "A camera van on Briggate."}
    return report(**{**base, **overrides})


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """A data directory whose reports are sealed to ALICE."""
    return new_node(tmp_path / "node")


@pytest.fixture
def alice_key(tmp_path: Path) -> Path:
    path = tmp_path / "alice.key"
    save_moderator_key(ALICE, path)
    (tmp_path / "alice.key.pub").write_text(ALICE.public.text + "\n", encoding="utf-8")
    return path


def from_the_form(fields: dict[str, Any]) -> dict[str, Any]:
    """A report as ``POST /report`` turns its form fields into a submission."""
    return submission_payload(
        {name: "yes" if value is True else str(value) for name, value in fields.items()}
    )


def records(capsys: pytest.CaptureFixture[str], node_dir: Path, kind: str) -> list[dict[str, Any]]:
    """Current records of ``kind``, every audience."""
    listed = json.loads(
        good(capsys, "query", "--kind", kind, "--data-dir", str(node_dir), "--json")
    )
    found: list[dict[str, Any]] = listed["records"]
    return found


def test_the_node_sets_the_default_audience_of_incidents_and_sightings_default_to_public(
    node_dir: Path,
    alice_key: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``[moderation] incident_audience`` is what an incident goes to without --audience
    (here through its environment variable); a sighting goes to ``public``; each says so."""
    where = ("--data-dir", str(node_dir), "--key", str(alice_key), "--summary", SUMMARY)
    [incident, camera] = submit(node_dir, report(), sighting())
    with monkeypatch.context() as env:
        env.setenv("BANSCAN_MODERATION_INCIDENT_AUDIENCE", "coordinators")
        first = good(capsys, "submissions", "publish", incident, *where)
    assert "(coordinators)" in first
    assert "node's default for an incident ([moderation] incident_audience)" in first
    assert "--audience public" in first
    [published] = records(capsys, node_dir, "incident")
    assert published["audience"] == "coordinators"
    seen = good(
        capsys,
        "submissions",
        "publish",
        camera,
        "--data-dir",
        str(node_dir),
        "--key",
        str(alice_key),
    )
    assert "(public)" in seen
    assert "the default for a deployment" in seen
    assert "--audience public" not in seen


def test_the_default_audience_is_said_and_a_correction_widens_it_but_never_narrows_it(
    node_dir: Path, alice_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--data-dir", str(node_dir), "--key", str(alice_key), "--summary", SUMMARY)
    [incident] = submit(node_dir, report())

    first = good(capsys, "submissions", "publish", incident, *where)
    assert "(network)" in first
    assert (
        "audience network: the node's default for an incident ([moderation] incident_audience)"
        in first
    )
    assert "--audience public" in first
    [network_record] = records(capsys, node_dir, "incident")
    assert network_record["audience"] == "network"

    # A correction without --audience keeps the audience of the record it corrects.
    kept = good(
        capsys, "submissions", "publish", incident, *where, "--verification", "corroborated"
    )
    assert "(network)" in kept
    assert "that of the record it corrects" in kept

    # Forgot --audience public: a correction widens it.
    widened = good(capsys, "submissions", "publish", incident, *where, "--audience", "public")
    assert "(public)" in widened
    assert "the default" not in widened
    [current] = records(capsys, node_dir, "incident")
    assert current["audience"] == "public"
    assert current["body"]["verification"]["status"] == "unverified"  # rebuilt from scratch
    public = json.loads(
        good(capsys, "query", "--kind", "incident", "--data-dir", str(node_dir), "--json")
    )["records"]
    assert [r["id"] for r in public] == [current["id"]]  # the network versions are superseded

    # Narrowing is refused, with what to do instead; nothing is published.
    narrowed = cli(capsys, "submissions", "publish", incident, *where, "--audience", "network")
    assert narrowed.returncode == 1
    assert "cannot narrow the audience" in narrowed.stderr
    assert f"retract {incident} instead" in narrowed.stderr
    assert [r["id"] for r in records(capsys, node_dir, "incident")] == [current["id"]]

    # The audit log says which audience a correction widened.
    audit = json.loads(good(capsys, "submissions", "audit", "--json", "--data-dir", str(node_dir)))
    corrections = [e["detail"] for e in audit["entries"] if e["action"] == "correct"]
    assert corrections == [
        {"audience": "network", "kind": "incident"},
        {"audience": "public", "kind": "incident", "widened_from": "network"},
    ]

    # Retracting erases every version, each in its own audience.
    retracted = good(
        capsys, "submissions", "retract", incident, "--reason", "error", "--data-dir", str(node_dir)
    )
    assert retracted.count("retraction record") == 3
    assert records(capsys, node_dir, "incident") == []


def test_a_draft_of_a_published_report_keeps_its_audience(
    node_dir: Path, alice_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [camera] = submit(node_dir, sighting())
    where = ("--data-dir", str(node_dir))
    good(
        capsys,
        "submissions",
        "publish",
        camera,
        "--key",
        str(alice_key),
        "--audience",
        "public",
        *where,
    )
    draft = node_dir.parent / "draft.json"
    good(
        capsys,
        "submissions",
        "show",
        camera,
        "--key",
        str(alice_key),
        "--draft",
        str(draft),
        *where,
    )
    assert json.loads(draft.read_text(encoding="utf-8"))["audience"] == "public"
    corrected = good(capsys, "submissions", "publish", camera, "--body", str(draft), *where)
    assert "(public)" in corrected


def test_a_sighting_keeps_the_agency_and_technology_its_reporter_gave(
    node_dir: Path, alice_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    van, unsure, no_agency = submit(
        node_dir,
        from_the_form(sighting()),
        # The form's "Not sure" sends an empty technology.
        from_the_form(sighting(technology="", agency="Leeds City Council", lat=53.80, lon=-1.55)),
        from_the_form(sighting(agency="", technology="drone", lat=53.81, lon=-1.56)),
    )
    where = ("--data-dir", str(node_dir), "--key", str(alice_key), "--audience", "public")
    good(capsys, "submissions", "publish", van, unsure, no_agency, *where)
    by_lat = {r["body"]["lat_e7"]: r["body"] for r in records(capsys, node_dir, "deployment")}
    van_body = by_lat[537_950_000]
    assert van_body["osm"] == {"operator": "West Yorkshire Police"}
    assert van_body["frt_capability"] == {"status": "suspected", "basis": ["visual"]}
    assert by_lat[538_000_000]["osm"] == {"operator": "Leeds City Council"}
    assert by_lat[538_000_000]["frt_capability"]["status"] == "unknown"  # "Not sure"
    assert by_lat[538_100_000]["osm"] == {}
    assert by_lat[538_100_000]["frt_capability"]["status"] == "suspected"
    # The operator column of an export, and the agency filter, find it.
    found = json.loads(
        good(
            capsys,
            "query",
            "--kind",
            "deployment",
            "--agency",
            "West Yorkshire Police",
            "--data-dir",
            str(node_dir),
            "--json",
        )
    )["records"]
    assert [r["body"]["lat_e7"] for r in found] == [537_950_000]

    # --omit agency leaves the operator tag out.
    [other] = submit(node_dir, sighting(lat=53.82, lon=-1.57))
    good(capsys, "submissions", "publish", other, *where, "--omit", "agency")
    omitted = {r["body"]["lat_e7"]: r["body"] for r in records(capsys, node_dir, "deployment")}
    assert omitted[538_200_000]["osm"] == {}


def test_the_public_half_given_as_key_is_named_as_such(node_dir: Path, alice_key: Path) -> None:
    [incident] = submit(node_dir, report())
    public_half = alice_key.with_name("alice.key.pub")
    for command in (
        ("show", incident),
        ("publish", incident, "--summary", SUMMARY),
    ):
        done = banscan(
            "submissions", *command, "--key", str(public_half), "--data-dir", str(node_dir)
        )
        assert done.returncode == 2
        assert "not JSON" not in done.stderr
        assert f"{public_half} is the PUBLIC half of a moderator key" in done.stderr
        assert f"PRIVATE key file that banscan moderators keygen wrote ({alice_key}" in (
            done.stderr
        )


def test_the_hint_keygen_prints_runs_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint runs, as written, in a child process from the key's directory."""
    node = tmp_path / "chapter-node"
    good(capsys, "init", "--data-dir", str(node))
    made = good(capsys, "moderators", "keygen", "--out", str(tmp_path / "bob.key"))
    [hint] = [line.strip() for line in made.splitlines() if "moderators add" in line]
    argv = shlex.split(hint)
    assert argv[:3] == ["banscan", "moderators", "add"]
    assert "--data-dir" in argv
    # The operator puts their node's directory for NODE-DIR and their name for YOUR-NAME,
    # in the directory where they saved the file.
    filled = [{"NODE-DIR": str(node), "YOUR-NAME": "bob"}.get(word, word) for word in argv[1:]]
    done = banscan(*filled, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "added moderator key" in done.stdout


def test_a_widening_correction_through_a_running_node(
    node_dir: Path,
    alice_key: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through a node's API: the node is a real process, reached over HTTP; the commands
    run in this process (each as a child process would cost seconds on a loaded machine)."""
    token = good(capsys, "token", "create", "--data-dir", str(node_dir), "--role", "moderator")
    # An incident: its default audience (the node's, network here) is narrower than public.
    [camera] = submit(node_dir, report())
    with running_node(node_dir) as node:
        remote = ("--node", node.url, "--key", str(alice_key), "--summary", SUMMARY)
        monkeypatch.setenv("BANSCAN_TOKEN", token.strip())
        first = good(capsys, "submissions", "publish", camera, *remote)
        assert "audience network: the node's default for an incident" in first
        kept = good(capsys, "submissions", "publish", camera, *remote)
        assert "(network)" in kept
        assert "that of the record it corrects" in kept
        widened = good(capsys, "submissions", "publish", camera, *remote, "--audience", "public")
        assert "(public)" in widened
        narrowed = cli(
            capsys, "submissions", "publish", camera, *remote, "--audience", "coordinators"
        )
        assert narrowed.returncode == 1
        assert "cannot narrow the audience" in narrowed.stderr
        assert "(HTTP 409)" in narrowed.stderr
        assert node.stop() == 0
    [current] = records(capsys, node_dir, "incident")
    assert current["audience"] == "public"
