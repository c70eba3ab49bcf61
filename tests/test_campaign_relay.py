"""Campaign records replicate like the others, and a kind this version does not know
is still relayed unchanged through a node that cannot read it."""

import msgpack

from storage.filters import QueryFilter
from tests.factories import agency_body, policy_body, records_request_body
from tests.test_sync import CHAPTER_A, CHAPTER_B, STEWARD, Make, admit, feeds, network

__all__ = ["network"]  # the fixture, shared with tests/test_sync.py


async def test_campaign_and_unknown_kinds_cross_a_relay_unchanged(network: Make) -> None:
    steward, relay, last = (
        await network(STEWARD),
        await network(CHAPTER_A),
        await network(CHAPTER_B),
    )
    for key in (CHAPTER_A, CHAPTER_B):
        await steward.publish("public", kind="membership", body=admit(key))
    agency = await steward.publish("public", kind="agency", body=agency_body())
    ref = {"name": "NYPD", "record": agency.id.hex()}
    await steward.publish("public", kind="policy", body=policy_body(agency=ref))
    await steward.publish("network", kind="records_request", body=records_request_body(agency=ref))
    # A kind of a later version: its body means nothing here and is never decoded.
    future = msgpack.packb({"minutes": "Council hearing", "votes": [5, 4]}, use_bin_type=True)
    later = await steward.publish("public", kind="hearing_minutes", body=future)

    for _ in range(2):  # membership first, then the network audience as a member
        await relay.client.session(steward.ref())
        await last.client.session(relay.ref())
    assert await feeds(last) == await feeds(steward)
    # Pulled batches are acknowledged, then indexed: the queries below read the index.
    assert await last.store.records.indexer.caught_up(10)

    held = await last.store.records.get(later.id)
    assert held is not None
    assert held.body == future
    found = await last.store.queries.page(
        QueryFilter(kind="policy", audiences=("public",), agency_refs=(agency.id,))
    )
    assert len(found) == 1
    requests = await last.store.queries.page(
        QueryFilter(kind="records_request", audiences=("network",), countries=("US",))
    )
    assert [row.due_on for row in requests] == ["2026-02-03"]
