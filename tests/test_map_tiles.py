"""The map's tiles and GeoJSON on a real node: decoded back, counted, cached, refused.

A known data set is published on the node: deployments in London and New York
(one of them private, one retracted) and incidents in cells of London holding 3,
2 and 1 of them. The tiles are decoded with ``mapbox_vector_tile`` and the GeoJSON
checked with the ``geojson`` package; no answer, at any zoom, shows a cell with
fewer than the minimum (3).
"""

import math
from typing import Any

import geojson
import mapbox_vector_tile
import pytest
from aiohttp.test_utils import TestServer

from node.state import CONFIG, STORE
from storage.filters import QueryFilter
from tests.conftest import NodeClient
from tests.factories import deployment_body, incident_body
from tests.nodeapp import put

LONDON = [(515_074_000 + n * 1000, -1_278_000 + n * 1000) for n in range(5)]
NEW_YORK = [(407_580_000, -739_855_000), (407_130_000, -740_060_000)]
# gcpvj0: 3 incidents (shown), gcpvj1: 2, gcpuvx: 1 (too few on their own).
AREAS = ["gcpvj0"] * 3 + ["gcpvj1"] * 2 + ["gcpuvx"]


def server(client: NodeClient) -> TestServer:
    assert isinstance(client.server, TestServer)
    return client.server


@pytest.fixture
async def mapped(client: NodeClient) -> NodeClient:
    for n, (lat, lon) in enumerate(LONDON + NEW_YORK):
        frt = ("confirmed", "suspected", "unknown")[n % 3]
        body = deployment_body(
            lat_e7=lat,
            lon_e7=lon,
            country="GB" if lat > 500_000_000 else "US",
            city="London" if lat > 500_000_000 else "New York",
            frt_capability={"status": frt, "basis": []},
            status="confirmed" if n % 2 else "reported",
        )
        await put(server(client), "public", "deployment", body)
    await put(
        server(client), "network", "deployment", deployment_body(lat_e7=515_000_000, lon_e7=0)
    )
    gone = await put(server(client), "public", "deployment", deployment_body(lat_e7=-1, lon_e7=-1))
    await put(server(client), "public", "retraction", {"target": gone.hex(), "reason": "error"})
    for area in AREAS:
        await put(server(client), "public", "incident", incident_body(area=area, country="GB"))
    return client


def tile_of(lat_e7: int, lon_e7: int, z: int) -> tuple[int, int]:
    lat = math.radians(lat_e7 / 1e7)
    n = 1 << z
    x = int((lon_e7 / 1e7 + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
    return x, y


async def tile(client: NodeClient, z: int, x: int, y: int, query: str = "") -> dict[str, Any]:
    answer = await client.get(f"/tiles/{z}/{x}/{y}.mvt{query}")
    assert answer.status == 200, await answer.text()
    assert answer.content_type == "application/vnd.mapbox-vector-tile"
    decoded: dict[str, Any] = mapbox_vector_tile.decode(
        await answer.read(), default_options={"y_coord_down": True}
    )
    return decoded


def features(decoded: dict[str, Any], layer: str) -> list[dict[str, Any]]:
    return list(decoded.get(layer, {}).get("features", []))


def deployments_counted(decoded: dict[str, Any]) -> int:
    return len(features(decoded, "deployments")) + sum(
        int(f["properties"]["count"]) for f in features(decoded, "clusters")
    )


async def test_the_world_tile_counts_every_public_deployment_once(mapped: NodeClient) -> None:
    world = await tile(mapped, 0, 0, 0)
    assert deployments_counted(world) == len(LONDON) + len(NEW_YORK)
    london = [f for f in features(world, "clusters") if f["properties"]["count"] == len(LONDON)]
    assert len(london) == 1
    assert london[0]["properties"]["frt_confirmed"] == 2  # n = 0 and 3
    # Only public records: the private one and the retracted one are nowhere, in any tile.
    z2 = [await tile(mapped, 2, x, y) for x in range(4) for y in range(4)]
    assert sum(deployments_counted(t) for t in z2) == len(LONDON) + len(NEW_YORK)


async def test_a_close_tile_has_each_deployment_with_its_shape_and_colour(
    mapped: NodeClient,
) -> None:
    x, y = tile_of(*LONDON[0], 14)
    decoded = await tile(mapped, 14, x, y)
    points = features(decoded, "deployments")
    assert len(points) == len(LONDON)
    assert {p["properties"]["frt"] for p in points} == {"confirmed", "suspected", "unknown"}
    assert {p["properties"]["status"] for p in points} == {"confirmed", "reported"}
    assert all(len(p["properties"]["id"]) == 64 for p in points)
    for point in points:
        px, py = point["geometry"]["coordinates"]
        assert 0 <= px <= 4096
        assert 0 <= py <= 4096
    only = await tile(mapped, 14, x, y, "?frt=confirmed")
    assert {p["properties"]["frt"] for p in features(only, "deployments")} == {"confirmed"}


async def test_no_tile_or_view_shows_a_cell_with_fewer_than_the_minimum(
    mapped: NodeClient,
) -> None:
    seen: dict[str, int] = {}
    for z in range(0, 15):
        x, y = tile_of(515_000_000, -1_000_000, z)
        for cell in features(await tile(mapped, z, x, y), "incidents"):
            assert cell["properties"]["count"] >= 3, (z, cell)
            seen[cell["properties"]["cell"]] = cell["properties"]["count"]
        view = await mapped.get(
            f"/tiles/data.geojson?bbox=-1,51,1,52&zoom={z}&category=protest_surveillance"
        )
        collection = geojson.loads(await view.text())
        assert collection.is_valid, collection.errors()
        assert collection["hidden_incidents"] == 0
        cells = [f for f in collection["features"] if f["properties"]["layer"] == "incidents"]
        assert all(f["properties"]["count"] >= 3 for f in cells)
    # The cell of 3 is shown; the 2 (gcpvj1) and the 1 (gcpuvx) only together, as the
    # 3 incidents of gcp outside its shown cell.
    assert seen["gcpvj0"] == 3
    assert "gcpvj1" not in seen
    assert "gcpuvx" not in seen
    assert "gcpu" not in seen
    assert seen["gcp"] == 3


async def test_incidents_in_areas_too_small_are_counted_not_shown(mapped: NodeClient) -> None:
    for _n in range(2):
        await put(server(mapped), "public", "incident", incident_body(area="9q8yy", city="SF"))
    view = await (await mapped.get("/tiles/data.geojson?zoom=3&city=SF")).json(content_type=None)
    assert view["hidden_incidents"] == 2
    assert not [f for f in view["features"] if f["properties"]["layer"] == "incidents"]
    assert view["min_incidents_per_cell"] == 3


async def test_geojson_is_rfc_7946_with_where_chapters_survey(mapped: NodeClient) -> None:
    answer = await mapped.get("/tiles/data.geojson?bbox=-180,-90,180,90&zoom=12")
    assert answer.content_type == "application/geo+json"
    collection = geojson.loads(await answer.text())
    assert collection.is_valid, collection.errors()
    points = [f for f in collection["features"] if f["properties"]["layer"] == "deployment"]
    assert len(points) == len(LONDON) + len(NEW_YORK)
    # The test node's own [node] place, and the chapters the network admitted.
    node = server(mapped).app[CONFIG].node
    surveyed = collection["surveyed"]
    if node.country:
        assert node.country.upper() in surveyed["countries"]
    assert set(surveyed) == {"countries", "cities"}


async def test_clusters_equal_a_scan_of_the_records(mapped: NodeClient) -> None:
    store = server(mapped).app[STORE]
    query = QueryFilter(kind="deployment", audiences=("public",))
    for zoom in range(12):
        box = (-1_800_000_000, -850_000_000, 1_800_000_000, 850_000_000)
        assert await store.map.deployments(query, zoom, box) == await store.map.deployments(
            query, zoom, box, rollup=False
        )


async def test_tiles_are_cached_and_revalidated(mapped: NodeClient) -> None:
    first = await mapped.get("/tiles/3/3/2.mvt")
    assert first.status == 200
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = await mapped.get("/tiles/3/3/2.mvt", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    # New data: a new answer, a new tag.
    await put(server(mapped), "public", "deployment", deployment_body(lat_e7=1, lon_e7=1))
    changed = await mapped.get("/tiles/3/3/2.mvt", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status in (200, 304)
    world = await mapped.get("/tiles/0/0/0.mvt")
    assert (
        world.headers["ETag"] != (await mapped.get("/tiles/0/0/0.mvt?frt=unknown")).headers["ETag"]
    )


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/tiles/19/0/0.mvt", "z"),
        ("/tiles/x/0/0.mvt", "z"),
        ("/tiles/2/4/0.mvt", "x"),
        ("/tiles/2/0/-1.mvt", "y"),
        ("/tiles/2/0/99999999999.mvt", "y"),
        ("/tiles/1/0/0.mvt?frt=maybe", "frt"),
        ("/tiles/1/0/0.mvt?occurred_from=yesterday", "occurred_from"),
        ("/tiles/1/0/0.mvt?zoom=3", "zoom"),
        ("/tiles/data.geojson?bbox=1,2,3", "bbox"),
        ("/tiles/data.geojson?bbox=10,0,5,1", "bbox"),
        ("/tiles/data.geojson?bbox=a,b,c,d", "bbox"),
        ("/tiles/data.geojson?zoom=19", "zoom"),
        ("/tiles/data.geojson?zoom=-1", "zoom"),
        ("/tiles/data.geojson?country=" + "x" * 300, "country"),
    ],
)
async def test_bad_input_is_a_400_problem_naming_the_parameter(
    client: NodeClient, url: str, parameter: str
) -> None:
    answer = await client.get(url, headers={"Accept": "text/html"})
    assert answer.status == 400
    assert answer.content_type == "application/problem+json"
    problem = await answer.json()
    assert parameter in (problem.get("parameter"), *problem.get("detail", "").split())
