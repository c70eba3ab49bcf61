"""``banscan moderators`` and ``banscan submissions`` end to end: the real CLI on real
data directories, and against a running node through its API.

The commands run in this process (:mod:`tests.inprocess`: a child process each cost 1
to 3 s on a loaded machine), against a data directory or a node that is a real
process; ``moderators keygen``, the usage errors and a remote node's scheme check run
``banscan`` in child processes, as a person does."""

import asyncio
import getpass
import json
import stat
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from node.cli.submissions.drafts import DRAFT_SUMMARY_MARK
from node.datadir import DataDir
from node.moderation.keyfile import load_moderator_key, save_moderator_key
from protocol.sealing import MAX_RECIPIENTS, ModeratorKey
from tests.conftest import node_store
from tests.inprocess import cli, good
from tests.moderating import ALICE, new_node, submit
from tests.nodeproc import banscan, running_node

MALLORY = ModeratorKey.generate()
NARRATIVE = "Officer Jane Roe scanned my face at Leeds station; I am John Smith."
PRIVATE_WORDS = ("Jane Roe", "John Smith", "john@example.org", "7700", "scanned my face")


def report(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": "incident",
        "what_happened": NARRATIVE,
        "occurred_on": "2026-03-02",
        "occurred_time": "08:15",
        "country": "GB",
        "city": "Leeds",
        "place": "Leeds railway station, platform 8",
        "lat": 53.7950,
        "lon": -1.5476,
        "agency": "West Yorkshire Police",
        "technology": "live_frt",
        "category": "stop_and_search",
        "sources": ["https://example.org/news/leeds"],
        "names": "John Smith",
        "email": "john@example.org",
        "phone": "+44 7700 900123",
        "consent_contact": True,
        "consent_publish": True,
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def sighting(**overrides: Any) -> dict[str, Any]:
    fields = {"kind": "deployment", "category": None, "what_happened": "A camera van on Briggate."}
    return report(**{**fields, **overrides})


def key_file(tmp_path: Path, key: ModeratorKey, name: str) -> Path:
    path = tmp_path / name
    if not path.exists():
        save_moderator_key(key, path)
    return path


def current_incidents(capsys: pytest.CaptureFixture[str], node_dir: Path) -> list[dict[str, Any]]:
    listed = json.loads(
        good(capsys, "query", "--kind", "incident", "--data-dir", str(node_dir), "--json")
    )
    records: list[dict[str, Any]] = listed["records"]
    return records


# -- moderators -------------------------------------------------------------------------------


def test_keygen_writes_an_owner_only_key_file_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "alice.key"
    made = banscan("moderators", "keygen", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = load_moderator_key(out)
    assert key.public.text in made.stdout
    assert key.public.key_id in made.stdout
    assert "Never copy it to the node" in made.stdout
    # The public half, in a file to hand to the node's operator.
    public = tmp_path / "alice.key.pub"
    assert public.read_text().strip() == key.public.text
    assert "mlkem_seed" not in public.read_text()

    again = banscan("moderators", "keygen", "--out", str(out))
    assert again.returncode == 2
    assert "refusing to overwrite" in again.stderr
    assert load_moderator_key(out).public == key.public


def test_moderators_add_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = tmp_path / "node"
    DataDir(node_dir).init("banthescan", [])
    where = ("--data-dir", str(node_dir))
    good(capsys, "moderators", "add", ALICE.public.text, "--label", "alice", *where)
    bob = ModeratorKey.generate()
    bob_pub = tmp_path / "bob.pub"
    bob_pub.write_text(bob.public.text + "\n")
    good(capsys, "moderators", "add", str(bob_pub), "--label", "bob", *where)

    carol = ModeratorKey.generate()
    from_private = cli(
        capsys, "moderators", "add", str(key_file(tmp_path, carol, "carol.key")), *where
    )
    assert from_private.returncode == 0, from_private.stderr
    assert "PRIVATE key file" in from_private.stderr
    assert "must not stay on this server" in from_private.stderr

    bad = cli(capsys, "moderators", "add", "mlkem768x25519:AAAA", *where)
    assert bad.returncode == 2
    assert "PUBKEY" in bad.stderr
    assert "1216 bytes" in bad.stderr
    neither = cli(capsys, "moderators", "add", str(tmp_path / "missing.pub"), *where)
    assert neither.returncode == 2
    assert "neither" in neither.stderr

    listed = json.loads(good(capsys, "moderators", "list", "--json", *where))["moderators"]
    by_id = {m["key_id"]: m for m in listed}
    assert set(by_id) == {ALICE.public.key_id, bob.public.key_id, carol.public.key_id}
    assert by_id[bob.public.key_id]["public"] == bob.public.text
    assert by_id[ALICE.public.key_id]["label"] == "alice"
    # Only the public half ever reaches the node.
    assert "mlkem_seed" not in json.dumps(listed)

    good(capsys, "moderators", "remove", carol.public.key_id, *where)
    gone = cli(capsys, "moderators", "remove", carol.public.key_id, *where)
    assert gone.returncode == 2
    assert "no moderator key" in gone.stderr
    table = good(capsys, "moderators", "list", *where)
    assert "alice" in table
    assert "bob" in table
    assert carol.public.key_id not in table


def test_moderators_add_stops_at_the_most_keys_a_report_can_be_sealed_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node_dir = tmp_path / "node"
    DataDir(node_dir).init("banthescan", [])

    async def fill() -> None:
        async with node_store(node_dir) as store:
            for n in range(MAX_RECIPIENTS):
                public = ModeratorKey.generate().public
                await store.submissions.add_key(public.key_id, public.text, f"m{n}", actor="test")

    asyncio.run(fill())
    refused = cli(capsys, "moderators", "add", ALICE.public.text, "--data-dir", str(node_dir))

    assert refused.returncode == 2
    assert f"already has {MAX_RECIPIENTS} moderator keys" in refused.stderr


# -- submissions, on a data directory ---------------------------------------------------------


def test_moderating_on_a_data_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = new_node(tmp_path / "node")
    where = ("--data-dir", str(node_dir))
    alice = str(key_file(tmp_path, ALICE, "alice.key"))
    mallory = str(key_file(tmp_path, MALLORY, "mallory.key"))
    first, second, no_consent, spam, camera, vague_camera = submit(
        node_dir,
        report(),
        report(city="Bradford", lat=53.7938, lon=-1.7564),
        report(consent_publish=False),
        report(what_happened="buy now"),
        sighting(),
        sighting(lat=None, lon=None),
    )

    listed = json.loads(good(capsys, "submissions", "list", "--json", *where))
    assert [s["id"] for s in listed["submissions"]] == [
        first, second, no_consent, spam, camera, vague_camera
    ]  # fmt: skip
    assert listed["counts"] == {
        "pending": 6,
        "needs_info": 0,
        "published": 0,
        "rejected": 0,
        "duplicate": 0,
        "retracted": 0,
    }
    assert "sealed" not in listed["submissions"][0]
    table = good(capsys, "submissions", "list", "--kind", "deployment", *where)
    assert camera in table
    assert first not in table
    assert "publish+contact" in table
    assert "6 pending" in table

    shown = good(capsys, "submissions", "show", first, "--key", alice, *where)
    assert NARRATIVE in shown
    assert "john@example.org" in shown
    assert "Leeds railway" in shown
    wrong = cli(capsys, "submissions", "show", first, "--key", mallory, *where)
    assert wrong.returncode == 2
    assert f"cannot open {first}" in wrong.stderr
    assert ALICE.public.key_id in wrong.stderr

    draft_file = tmp_path / "draft.json"
    drafted = cli(
        capsys, "submissions", "show", first, "--key", alice, "--draft", str(draft_file), *where
    )
    assert drafted.returncode == 0, drafted.stderr
    assert "Rewrite its summary" in drafted.stderr
    draft = json.loads(draft_file.read_text())
    assert draft["audience"] == "network"
    assert draft["body"]["summary"] == DRAFT_SUMMARY_MARK + NARRATIVE
    assert draft["body"]["area"] == "gcwfhc"
    assert draft["body"]["sources"] == [{"url": "https://example.org/news/leeds"}]

    # An incident needs the moderator's own summary.
    unsummarised = cli(capsys, "submissions", "publish", first, "--key", alice, *where)
    assert unsummarised.returncode == 2
    assert "--summary" in unsummarised.stderr
    good(
        capsys, "submissions", "publish", first, "--key", alice, *where,
        "--summary", "Live facial recognition used in a stop at Leeds station.",
    )  # fmt: skip
    good(
        capsys, "submissions", "publish", second, "--key", alice, *where, "--precision", "4",
        "--omit", "agency", "--audience", "public", "--verification", "corroborated",
        "--summary", "A stop in Bradford after a live facial recognition alert.",
        "--include-sources",
    )  # fmt: skip
    too_fine = cli(
        capsys, "submissions", "publish", second, "--key", alice, "--precision", "7",
        "--summary", "x", *where,
    )  # fmt: skip
    assert too_fine.returncode == 2
    refused = cli(
        capsys, "submissions", "publish", no_consent, "--key", alice, "--summary", "x", *where
    )
    assert refused.returncode == 1
    assert "did not consent to publication" in refused.stderr

    incidents = {r["body"]["city"]: r for r in current_incidents(capsys, node_dir)}
    leeds, bradford = incidents["Leeds"], incidents["Bradford"]
    assert leeds["body"]["area"] == "gcwfhc"
    assert leeds["audience"] == "network"
    assert leeds["body"]["agency"] == {"name": "West Yorkshire Police"}
    # Sources go out only once the moderator says they checked them.
    assert not leeds["body"].get("sources")
    assert bradford["body"]["sources"] == [{"url": "https://example.org/news/leeds"}]
    assert len(bradford["body"]["area"]) == 4
    assert "agency" not in bradford["body"]
    assert bradford["audience"] == "public"
    assert bradford["body"]["verification"]["status"] == "corroborated"
    published = json.dumps(list(incidents.values()))
    for word in PRIVATE_WORDS:
        assert word not in published

    # Bulk: each submission's outcome, and status 1 when one was not published.
    bulk = cli(capsys, "submissions", "publish", camera, vague_camera, "--key", alice, *where)
    assert bulk.returncode == 1
    assert f"published {camera} as record" in bulk.stdout
    assert f"not published {vague_camera}" in bulk.stdout
    assert "geocode" in bulk.stdout

    rejected = cli(capsys, "submissions", "reject", spam, first, "--reason", "spam", *where)
    assert rejected.returncode == 1
    assert f"rejected {spam} (spam)" in rejected.stdout
    assert f"skipped {first}: it is published" in rejected.stdout

    retracted = good(capsys, "submissions", "retract", second, "--reason", "error", *where)
    assert f"retracted {second}" in retracted
    assert "Bradford" not in {r["body"]["city"] for r in current_incidents(capsys, node_dir)}

    purged = good(capsys, "submissions", "purge", "--retention-days", "0", *where)
    assert "deleted the private part of 4 decided submission(s)" in purged
    gone = good(capsys, "submissions", "show", spam, "--key", alice, *where)
    assert "private part purged" in gone
    assert "buy now" not in gone

    audit = json.loads(good(capsys, "submissions", "audit", "--json", *where))
    assert audit["intact"] is True
    actor = f"cli:{getpass.getuser()}"
    entries = [e for e in audit["entries"] if e["actor"] == actor]
    # Every opening of a private part is logged as a view.
    assert {e["submission"] for e in entries if e["action"] == "view"} >= {first, second}
    actions = [(e["action"], e["submission"]) for e in entries if e["action"] != "view"]
    assert actions == [
        ("publish", first), ("publish", second), ("publish", camera), ("reject", spam),
        ("retract", second), ("purge", None),
    ]  # fmt: skip
    text = good(capsys, "submissions", "audit", *where)
    assert "hash chain intact" in text
    assert (
        f"latest entry {audit['entries'][-1]['seq']}, hash {audit['entries'][-1]['hash']}" in text
    )
    assert actor in text


def test_publishing_an_edited_draft(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = new_node(tmp_path / "node")
    where = ("--data-dir", str(node_dir))
    [camera] = submit(node_dir, sighting(lat=None, lon=None))
    draft_file = tmp_path / "camera.json"
    good(capsys, "submissions", "show", camera, "--key", str(key_file(tmp_path, ALICE, "a.key")),
       "--draft", str(draft_file), *where)  # fmt: skip
    draft = json.loads(draft_file.read_text())
    assert draft["body"]["lat_e7"].startswith("TODO")
    unfinished = cli(capsys, "submissions", "publish", camera, "--body", str(draft_file), *where)
    assert unfinished.returncode == 2
    assert "fill in lat_e7, lon_e7" in unfinished.stderr

    draft["body"].update(lat_e7=537_970_000, lon_e7=-15_420_000)
    draft["audience"] = "public"
    draft_file.write_text(json.dumps(draft))
    done = good(capsys, "submissions", "publish", camera, "--body", str(draft_file), *where)
    assert "(public)" in done
    deployments = json.loads(
        good(capsys, "query", "--kind", "deployment", "--data-dir", str(node_dir), "--json")
    )["records"]
    assert [(d["body"]["lat_e7"], d["body"]["status"]) for d in deployments] == [
        (537_970_000, "reported")
    ]


def test_an_incident_draft_is_refused_until_its_summary_is_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node_dir = new_node(tmp_path / "node")
    where = ("--data-dir", str(node_dir))
    [incident] = submit(node_dir, report())
    draft_file = tmp_path / "incident.json"
    good(capsys, "submissions", "show", incident, "--key", str(key_file(tmp_path, ALICE, "a.key")),
       "--draft", str(draft_file), *where)  # fmt: skip
    draft = json.loads(draft_file.read_text())
    assert draft["body"]["summary"].startswith("TODO")

    unedited = cli(capsys, "submissions", "publish", incident, "--body", str(draft_file), *where)
    assert unedited.returncode == 2
    assert "fill in summary" in unedited.stderr

    draft["body"]["summary"] = "Live facial recognition at a station; details withheld."
    draft_file.write_text(json.dumps(draft))
    good(capsys, "submissions", "publish", incident, "--body", str(draft_file), *where)


# -- submissions, on a running node -----------------------------------------------------------


def post_report(url: str, payload: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v1/submissions",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_moderating_a_running_node_through_its_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node is a real process, reached over HTTP; the commands run in this process
    (tests/inprocess.py), the token from BANSCAN_TOKEN or --token."""
    node_dir = new_node(tmp_path / "node")
    token = good(capsys, "token", "create", "--data-dir", str(node_dir), "--role", "moderator",
                 "--label", "alice-laptop").strip()  # fmt: skip
    alice = str(key_file(tmp_path, ALICE, "alice.key"))
    with running_node(node_dir) as node:
        for payload in (report(), report(what_happened="spam spam")):
            post_report(node.url, payload)
        remote = ("--node", node.url)
        monkeypatch.setenv("BANSCAN_TOKEN", token)

        listed = cli(capsys, "submissions", "list", "--json", *remote)
        assert listed.returncode == 0, listed.stderr
        first, spam = (s["id"] for s in json.loads(listed.stdout)["submissions"])

        shown = cli(capsys, "submissions", "show", first, "--key", alice, *remote)
        assert shown.returncode == 0, shown.stderr
        assert NARRATIVE in shown.stdout

        published = cli(
            capsys, "submissions", "publish", first, "--key", alice, "--precision", "5", *remote,
            "--summary", "Live facial recognition used in a stop at Leeds station.",
        )  # fmt: skip
        assert published.returncode == 0, published.stderr
        assert f"published {first} as record" in published.stdout

        monkeypatch.delenv("BANSCAN_TOKEN")
        rejected = cli(
            capsys, "submissions", "reject", spam, "--reason", "spam", *remote, "--token", token
        )
        monkeypatch.setenv("BANSCAN_TOKEN", token)
        assert rejected.returncode == 0, rejected.stderr
        assert f"rejected {spam}" in rejected.stdout

        audit = cli(capsys, "submissions", "audit", "--json", *remote)
        assert audit.returncode == 0, audit.stderr
        entries = json.loads(audit.stdout)["entries"]
        assert [(e["actor"], e["action"], e["submission"]) for e in entries[-2:]] == [
            ("token:alice-laptop", "publish", first),
            ("token:alice-laptop", "reject", spam),
        ]

        monkeypatch.setenv("BANSCAN_TOKEN", "nope")
        unauthorised = cli(capsys, "submissions", "list", *remote)
        assert unauthorised.returncode == 2
        assert "moderator token" in unauthorised.stderr

    [incident] = current_incidents(capsys, node_dir)
    assert len(incident["body"]["area"]) == 5
    assert NARRATIVE not in json.dumps(incident)


@pytest.mark.parametrize(
    "args",
    [
        ("submissions", "list", "--node", "http://127.0.0.1:9"),
        ("submissions", "show", "sub_nope", "--key", "k"),
    ],
)
def test_bad_invocations_explain_themselves(args: tuple[str, ...]) -> None:
    done = banscan(*args, env={"BANSCAN_TOKEN": ""})
    assert done.returncode == 2
    assert "banscan: error:" in done.stderr


def test_a_remote_node_must_be_reached_over_https() -> None:
    done = banscan(
        "submissions", "list", "--node", "http://node.example.org", env={"BANSCAN_TOKEN": "t"}
    )

    assert done.returncode == 2
    assert "must be https://" in done.stderr
