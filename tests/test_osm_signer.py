"""An import's records signed in a second process (node/osm/signer.py): every record
stored is signed by the node key at the seq it holds, also when another writer took
the seqs the worker signed for; a worker with another key signs nothing."""

from pathlib import Path
from typing import Any

import pytest

from node.datadir import DataDir
from node.osm.signer import ImportPublisher, SealJob, Signer
from node.publishing import publish
from protocol.errors import BodySchemaError
from protocol.records import VerifiedRecord, verify_record
from protocol.sync import Want
from tests.conftest import node_store
from tests.factories import deployment_body


def _node(path: Path) -> DataDir:
    directory = DataDir(path)
    directory.init("banthescan", [])
    return directory


async def test_presigned_batches_and_a_seq_taken_meanwhile_are_all_signed_right(
    tmp_path: Path,
) -> None:
    directory = _node(tmp_path / "node")
    config, key = directory.load_config(), directory.load_key()
    limits = config.limits.limits()
    async with node_store(directory.path) as store:
        publisher = ImportPublisher(
            store, key, directory.path, network_id=config.network.id, limits=limits, start_after=0
        )

        async def stored(*batches: list[dict[str, Any]]) -> list[VerifiedRecord]:
            tasks = [await publisher("public", batch) for batch in batches]
            await publisher.drain()
            return [record for task in tasks for record in task.result()]

        try:
            # The first batch is signed here while the worker starts.
            bodies = [deployment_body(lat_e7=400_000_000 + n) for n in range(9)]
            first = await stored(bodies[:1])
            assert await publisher.signer_started()
            # Two batches in flight: the worker signs the second while the first is stored.
            first += await stored(bodies[1:3], bodies[3:4])
            # The running node publishes to the same feed: seq 5 is taken.
            await publish(
                store.records,
                key,
                network_id=config.network.id,
                limits=limits,
                kind="deployment",
                audience="public",
                body=deployment_body(),
                clock=store.clock,
            )
            # Signed for 5-6 and 7, stored at 6-7 and 8: signed again in the transaction.
            second = await stored(bodies[4:6], bodies[6:7])
            third = await stored(bodies[7:9])  # the worker again, for the right seqs
            # An invalid body: the worker gives the batch back, validated again here.
            await publisher("public", [deployment_body(lat_e7=900_000_001)])
            with pytest.raises(BodySchemaError, match="lat_e7"):
                await publisher.drain()
        finally:
            await publisher.close()
        ours = [*first, *second, *third]
        assert [r.envelope.seq for r in ours] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
        held = await store.feeds.read(
            [Want(key.public_key, "public", 0, 10)], max_records=100, max_bytes=1 << 20
        )
    ids = [r.id for r in ours]
    assert [r.id for r in held] == [*ids[:4], held[4].id, *ids[4:]]
    for record in held:
        verified = verify_record(record, network_id=config.network.id, limits=limits)
        assert verified.envelope.origin == key.public_key


async def test_a_worker_holding_another_key_signs_nothing(tmp_path: Path) -> None:
    mine, other = _node(tmp_path / "mine"), _node(tmp_path / "other")
    signer = Signer(other.path)
    try:
        with pytest.raises(RuntimeError, match="another key"):
            await signer.seal(
                mine.load_key().public_key, SealJob("banthescan", "public", 1, 0, [{}], 1000)
            )
    finally:
        signer.close()
