"""A known map data set: what the map page and its browser test should draw.

Four public cameras in New York (one of each FRT capability, four statuses),
one camera published to the network audience only (never on a page), and
incidents in New York area cells: five in ``dr5ru7`` (shown as a cell of 5),
and two in ``dr5rsq``, which, below the minimum of 3, merge into their parent
cells until a group is large enough, never shown alone. The chapter's ``node`` record
says it collects data in the United States: everywhere else is "not surveyed".
"""

from typing import Final

from aiohttp.test_utils import TestServer

from tests.factories import deployment_body, incident_body
from tests.nodeapp import put

# (lat, lon, FRT capability, status)
CAMERAS: Final = (
    (40.7580, -73.9855, "confirmed", "confirmed"),
    (40.7128, -74.0060, "suspected", "reported"),
    (40.7306, -73.9352, "unknown", "disputed"),
    (40.6892, -74.0445, "confirmed", "removed"),
)
HIDDEN_CAMERA: Final = (40.7000, -73.9000)
BIG_CELL: Final = ("dr5ru7", 5)
SMALL_CELL: Final = ("dr5rsq", 2)
# The view the test opens: New York.
NEW_YORK: Final = "-74.3,40.5,-73.7,40.95"


async def seed(server: TestServer) -> dict[str, bytes]:
    """Publish the data set on ``server``'s node; the public cameras' ids by status."""
    ids = {}
    for lat, lon, frt, status in CAMERAS:
        body = deployment_body(
            lat_e7=round(lat * 1e7),
            lon_e7=round(lon * 1e7),
            frt_capability={"status": frt, "basis": ["vendor_document"]},
            status=status,
        )
        ids[status] = await put(server, "public", "deployment", body)
    lat, lon = HIDDEN_CAMERA
    hidden = deployment_body(lat_e7=round(lat * 1e7), lon_e7=round(lon * 1e7))
    await put(server, "network", "deployment", hidden)
    for area, count in (BIG_CELL, SMALL_CELL):
        for _ in range(count):
            await put(server, "public", "incident", incident_body(area=area))
    # The chapter says where it is: the US is surveyed, the rest of the world is not.
    chapter = {
        "urls": ["https://nyc.example.org/"],
        "name": "NYC",
        "city": "New York",
        "country": "US",
    }
    await put(server, "public", "node", chapter)
    return ids
