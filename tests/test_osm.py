"""``banscan import-osm`` and ``export-osm`` on a real data directory (issue 15).

Extracts are written here with osmium's own writer; the Overpass answer is
``tests/osm/overpass.json``. The commands run in this process, as an operator
runs them; records are read back with ``banscan query --json``. osmChange
output is parsed back with osmium and GeoJSON checked with the geojson package.
"""

import contextlib
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geojson
import osmium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from osmium.osm.mutable import Node, Way

from node.cli import main
from node.config import DATABASE_FILE
from node.datadir import DataDir
from node.osm.elements import OsmInputError, read_cameras
from node.osm.tags import record_tags

OVERPASS = Path(__file__).parent / "osm" / "overpass.json"
LONDON_BBOX = "--bbox=-0.5,51.3,0.3,51.7"
SURVEILLANCE = {"man_made": "surveillance", "surveillance:type": "camera"}


def banscan(*args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``banscan ARGS`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def node_dir(tmp_path: Path) -> str:
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    return str(directory)


def deployments(node_dir: str) -> dict[str, dict[str, Any]]:
    """The node's current deployments, by the OSM object or record id they stand for."""
    status, out, _ = banscan("query", "--data-dir", node_dir, "--kind", "deployment", "--json")
    assert status == 0
    found = {}
    for record in json.loads(out)["records"]:
        sources = [s["url"] for s in record["body"].get("sources", [])]
        osm = [
            u.removeprefix("https://www.openstreetmap.org/")
            for u in sources
            if "openstreetmap" in u
        ]
        found[osm[0].split("/history/")[0] if osm else record["id"]] = record
    return found


def write_extract(path: Path, node_one_version: int, node_one_place: tuple[float, float]) -> None:
    """A London extract: cameras as nodes and as a way, street furniture, one camera in
    Paris, a camera in Dublin tagged with its country, a way whose nodes are missing."""
    with osmium.SimpleWriter(str(path), overwrite=True) as writer:
        tags = {
            **SURVEILLANCE,
            "camera:mount": "pole",
            "operator": "Metropolitan Police",
            "operator:wikidata": "Q35794",
            "Ref:GB": "left out: a capital",
            "survey:date": "2024-05",
        }
        writer.add_node(Node(id=1, version=node_one_version, location=node_one_place, tags=tags))
        for ident, lon in ((2, -0.110), (3, -0.108), (4, -0.109)):
            writer.add_node(Node(id=ident, version=1, location=(lon, 51.51)))
        writer.add_node(Node(id=5, version=1, location=(2.35, 48.85), tags=SURVEILLANCE))
        dublin = {**SURVEILLANCE, "addr:country": "IE"}
        writer.add_node(Node(id=6, version=2, location=(-0.2, 51.45), tags=dublin))
        writer.add_node(Node(id=7, version=1, location=(-0.1, 51.5), tags={"amenity": "bench"}))
        writer.add_way(Way(id=10, version=2, nodes=[2, 3, 4, 2], tags=SURVEILLANCE))
        writer.add_way(Way(id=11, version=1, nodes=[2, 99], tags=SURVEILLANCE))


def import_osm(node_dir: str, *args: str) -> str:
    status, out, err = banscan("import-osm", "--data-dir", node_dir, *args)
    assert status == 0, err
    return out


def test_an_extract_is_published_then_only_what_changed(node_dir: str, tmp_path: Path) -> None:
    extract = tmp_path / "london.osm.pbf"
    write_extract(extract, 3, (-0.1, 51.5))
    common = ("--country", "GB", "--city", "London", LONDON_BBOX, str(extract))
    counts = "3 new, 0 updated, 0 unchanged, 0 another chapter's, 1 outside, 1 without a place"

    out = import_osm(node_dir, "--dry-run", *common)
    assert f"dry run, nothing published; {extract}: {counts}" in out
    assert deployments(node_dir) == {}

    out = import_osm(node_dir, *common)
    assert f"imported {extract}: {counts}" in out
    assert "note: 1 tags left out" in out
    held = deployments(node_dir)
    assert sorted(held) == ["node/1", "node/6", "way/10"]
    camera = held["node/1"]["body"]
    assert camera["lat_e7"] == 515_000_000
    assert camera["lon_e7"] == -1_000_000
    assert (camera["country"], camera["city"]) == ("GB", "London")
    assert camera["osm"] == {
        **SURVEILLANCE,
        "camera:mount": "pole",
        "operator": "Metropolitan Police",
        "operator:wikidata": "Q35794",
        "survey:date": "2024-05",
    }
    assert camera["observed_on"] == {"date": "2024-05-01", "precision": "month"}
    assert camera["sources"] == [{"url": "https://www.openstreetmap.org/node/1/history/3"}]
    assert camera["status"] == "reported"
    assert held["node/1"]["audience"] == "public"
    way = held["way/10"]["body"]  # the mean of its three distinct nodes
    assert (way["lat_e7"], way["lon_e7"]) == (515_100_000, -1_090_000)
    assert held["node/6"]["body"]["country"] == "IE"

    out = import_osm(node_dir, *common)
    assert "0 new, 0 updated, 3 unchanged, 0 another chapter's, 1 outside" in out

    # The chapter confirms the camera: a new version of its record, keeping the source.
    confirmed = {**camera, "status": "confirmed", "supersedes": held["node/1"]["id"]}
    body_file = tmp_path / "confirmed.json"
    body_file.write_text(json.dumps(confirmed))
    status, confirmed_id, err = banscan(
        "publish", "--data-dir", node_dir, "--kind", "deployment", "--audience", "public",
        str(body_file),
    )  # fmt: skip
    assert status == 0, err

    # A mapper moves it in OSM: version 4 supersedes the chapter's version, keeping its status.
    write_extract(extract, 4, (-0.1001, 51.5002))
    out = import_osm(node_dir, *common)
    assert "0 new, 1 updated, 2 unchanged, 0 another chapter's, 1 outside" in out
    held = deployments(node_dir)
    assert sorted(held) == ["node/1", "node/6", "way/10"]
    moved = held["node/1"]["body"]
    assert (moved["lat_e7"], moved["lon_e7"]) == (515_002_000, -1_001_000)
    assert moved["supersedes"] == confirmed_id.strip()
    assert moved["status"] == "confirmed"
    assert moved["sources"] == [{"url": "https://www.openstreetmap.org/node/1/history/4"}]


def test_an_overpass_answer_is_read_and_mappers_are_not_copied(
    node_dir: str, tmp_path: Path
) -> None:
    out = import_osm(node_dir, "--country", "US", "--area", "dr5ru", str(OVERPASS))
    assert "3 new, 0 updated, 0 unchanged, 0 another chapter's, 1 outside, 0 without a place" in out
    assert "note: 2 tags left out" in out
    held = deployments(node_dir)
    assert sorted(held) == ["node/9100000001", "node/9100000002", "way/9200000001"]
    alpr = held["node/9100000001"]["body"]
    assert (alpr["lat_e7"], alpr["lon_e7"]) == (407_484_405, -739_856_644)
    assert alpr["osm"]["surveillance:type"] == "ALPR"
    assert alpr["osm"]["manufacturer:wikidata"] == "Q000000001"
    assert alpr["observed_on"] == {"date": "2026-03-28", "precision": "day"}
    assert "city" not in alpr
    assert held["node/9100000002"]["body"]["observed_on"]["precision"] == "month"
    way = held["way/9200000001"]["body"]
    assert (way["lat_e7"], way["lon_e7"]) == (407_527_000, -739_772_000)
    assert way["osm"] == SURVEILLANCE
    # Who edited OSM never enters a record.
    text = json.dumps(held)
    for trace in ("some_mapper", "another_mapper", "4242", "150000001"):
        assert trace not in text

    answer = json.loads(OVERPASS.read_text())
    del answer["elements"][1]["version"]
    unversioned = tmp_path / "no-meta.json"
    unversioned.write_text(json.dumps(answer))
    status, _, err = banscan(
        "import-osm", "--data-dir", node_dir, "--country", "US", str(unversioned)
    )
    assert status == 2
    assert "node/9100000002 has no version" in err
    assert "out meta" in err

    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(b"\x00\x01 not an extract")
    status, _, err = banscan("import-osm", "--data-dir", node_dir, "--country", "US", str(garbage))
    assert (status, err.startswith("banscan: error:")) == (2, True)
    for wrong in (["--country", "XX"], ["--country", "US", "--bbox", "1,2,3"]):
        status, _, err = banscan("import-osm", "--data-dir", node_dir, *wrong, str(OVERPASS))
        assert status == 2, err


def publish(node_dir: str, tmp_path: Path, audience: str, **fields: Any) -> str:
    body = {"lat_e7": 407_500_000, "lon_e7": -739_800_000, "country": "US", **fields}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    status, out, err = banscan(
        "publish", "--data-dir", node_dir, "--kind", "deployment", "--audience", audience,
        str(path),
    )  # fmt: skip
    assert status == 0, err
    return out.strip()


def test_chapters_findings_go_out_for_mappers(node_dir: str, tmp_path: Path) -> None:
    import_osm(node_dir, "--country", "US", str(OVERPASS))
    found = publish(
        node_dir, tmp_path, "public", osm={"surveillance:type": "camera", "operator": "NYPD"}
    )
    disputed = publish(node_dir, tmp_path, "public", lat_e7=407_600_000, status="disputed")
    publish(node_dir, tmp_path, "network", lat_e7=407_700_000)
    # 9 m from node/9100000002, which came from OSM: that camera found again.
    again = publish(node_dir, tmp_path, "public", lat_e7=407_410_800, lon_e7=-739_897_000)

    osc = tmp_path / "findings.osc"
    status, _, err = banscan("export-osm", "--data-dir", node_dir, "--out", str(osc))
    assert status == 0
    assert err.splitlines() == [
        f"exported 1 deployments to {osc}",
        "note: left out 1 within 15 m of a camera that came from OpenStreetMap "
        "(--near 0 keeps them)",
    ]
    root = ET.parse(osc).getroot()
    assert root.tag == "osmChange"
    assert [child.tag for child in root] == ["create"]
    nodes = [
        (n.id, n.version, n.location.lat, n.location.lon, dict(n.tags))
        for n in osmium.FileProcessor(str(osc))
        if isinstance(n, osmium.osm.Node)
    ]
    assert nodes == [
        (
            -1,
            1,
            40.75,
            -73.98,
            {"man_made": "surveillance", "surveillance:type": "camera", "operator": "NYPD"},
        )
    ]

    out = tmp_path / "findings.geojson"
    status, _, _ = banscan(
        "export-osm", "--data-dir", node_dir, "--out", str(out), "--format", "geojson",
        "--status", "disputed,reported",
    )  # fmt: skip
    assert status == 0
    collection = geojson.loads(out.read_text())
    assert collection.is_valid, collection.errors()
    assert {f["id"] for f in collection["features"]} == {found, disputed}
    by_id = {f["id"]: f for f in collection["features"]}
    assert by_id[disputed]["properties"] == {"man_made": "surveillance"}
    assert by_id[found]["geometry"]["coordinates"] == [-73.98, 40.75]
    assert again not in by_id

    status, _, err = banscan(
        "export-osm", "--data-dir", node_dir, "--out", str(out), "--format", "geojson",
        "--near", "5",
    )  # fmt: skip
    assert (status, err.strip()) == (0, f"exported 2 deployments to {out}")
    assert {f["id"] for f in geojson.loads(out.read_text())["features"]} == {found, again}

    status, _, err = banscan("export-osm", "--data-dir", node_dir, "--out", "-")
    assert status == 2
    assert "--format osc is written to a file" in err
    status, _, err = banscan("export-osm", "--data-dir", node_dir, "--out", "x", "--status", "gone")
    assert status == 2
    assert "--status" in err
    status, _, err = banscan("export-osm", "--data-dir", node_dir, "--out", "x", "--near", "50")
    assert status == 2
    assert "--near" in err


def test_tags_a_record_cannot_hold_are_left_out_surveillance_first() -> None:
    tags = {f"note_{chr(97 + i)}{chr(97 + j)}": "x" for i in range(3) for j in range(12)}
    tags |= {"man_made": "surveillance", "brand:wikidata": "Q1", "camera:type": "dome"}
    tags |= {"name:EN": "capital", "ref2": "digit", "description": "y" * 256}
    kept, left_out = record_tags(tags)
    assert len(kept) == 32
    assert {"man_made", "brand:wikidata", "camera:type"} <= set(kept)
    assert left_out == len(tags) - 32


def test_a_newer_version_never_goes_to_a_narrower_audience(node_dir: str, tmp_path: Path) -> None:
    import_osm(node_dir, "--country", "US", "--audience", "network", str(OVERPASS))
    answer = json.loads(OVERPASS.read_text())
    answer["elements"][0]["version"] = 4
    answer["elements"][1]["version"] = 2
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(answer))
    out = import_osm(node_dir, "--country", "US", "--audience", "coordinators", str(newer))
    assert "0 new, 2 updated, 2 unchanged" in out
    audiences = {ref: record["audience"] for ref, record in deployments(node_dir).items()}
    assert audiences == {
        "node/9100000001": "network",
        "node/9100000002": "network",
        "node/9100000003": "network",
        "way/9200000001": "network",
    }
    answer["elements"][0]["version"] = 5
    newer.write_text(json.dumps(answer))
    out = import_osm(node_dir, "--country", "US", str(newer))
    assert "0 new, 1 updated, 3 unchanged" in out
    assert deployments(node_dir)["node/9100000001"]["audience"] == "public"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ELEMENTS = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["node", "way", "relation"]),
            "tags": st.just({"man_made": "surveillance"}),
        },
        optional={
            "id": JSON_VALUES | st.integers(),
            "version": JSON_VALUES | st.integers(min_value=0, max_value=5),
            "lat": JSON_VALUES | st.floats(),
            "lon": JSON_VALUES | st.floats(),
            "nodes": JSON_VALUES,
            "center": JSON_VALUES,
            "geometry": JSON_VALUES,
        },
    )
    | JSON_VALUES,
    max_size=5,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answer=st.fixed_dictionaries({"elements": ELEMENTS}) | JSON_VALUES)
def test_any_json_is_cameras_or_an_osm_input_error(tmp_path: Path, answer: Any) -> None:
    path = tmp_path / "answer.json"
    # An object is read as Overpass JSON; anything else is written so that it starts like one.
    text = json.dumps(answer)
    path.write_text(text if isinstance(answer, dict) else "{" + text)
    try:
        cameras = list(read_cameras(path))
    except OsmInputError:
        return
    for camera in cameras:
        assert isinstance(camera.version, int)
        assert camera.version >= 1
        if camera.lat_e7 is not None:
            assert -900_000_000 <= camera.lat_e7 <= 900_000_000


def test_a_camera_another_chapter_published_is_not_published_twice(
    node_dir: str, tmp_path: Path
) -> None:
    import_osm(node_dir, "--country", "US", "--audience", "network", str(OVERPASS))
    # A second node holding the first one's records (as sync would give it).
    other = tmp_path / "other"
    DataDir(other).init("banthescan", [])
    source = sqlite3.connect(Path(node_dir) / DATABASE_FILE)
    target = sqlite3.connect(other / DATABASE_FILE)
    with source, target:
        source.backup(target)
    source.close()
    target.close()

    out = import_osm(str(other), "--country", "US", "--audience", "network", str(OVERPASS))
    assert "0 new, 0 updated, 0 unchanged, 4 another chapter's, 0 outside" in out
    # In a wider audience than the other chapter's, they are this chapter's to publish.
    out = import_osm(str(other), "--country", "US", "--audience", "public", str(OVERPASS))
    assert "4 new, 0 updated, 0 unchanged, 0 another chapter's" in out
