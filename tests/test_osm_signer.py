"""An import's records signed in a second process (node/osm/signer.py): every record
stored is signed by the node key at the seq it holds, also when another writer took
the seqs the worker signed for; a worker with another key signs nothing."""

from pathlib import Path

import pytest

from node.datadir import DataDir
from node.osm.signer import ImportPublisher, Signer
from node.publishing import publish
from protocol.records import verify_record
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
        try:
            bodies = [deployment_body(lat_e7=400_000_000 + n) for n in range(7)]
            # Signed here while the worker starts (it is started by the first batch).
            first = await publisher("public", bodies[:1])
            assert await publisher.signer_started()
            first += await publisher("public", bodies[1:3])  # signed by the worker
            # The running node publishes to the same feed: seq 4 is taken.
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
            second = await publisher("public", bodies[3:6])  # signed for 4-6: signed again
            third = await publisher("public", bodies[6:])  # the worker
            fourth = await publisher("public", bodies[:2])  # the worker again, seqs 9-10
        finally:
            publisher.close()
        assert [r.envelope.seq for r in (*first, *second, *third, *fourth)] == [
            1,
            2,
            3,
            5,
            6,
            7,
            8,
            9,
            10,
        ]
        stored = await store.feeds.read(
            [Want(key.public_key, "public", 0, 10)], max_records=100, max_bytes=1 << 20
        )
    ours = [r.id for r in (*first, *second, *third, *fourth)]
    assert [r.id for r in stored] == [*ours[:3], stored[3].id, *ours[3:]]
    for record in stored:
        verified = verify_record(record, network_id=config.network.id, limits=limits)
        assert verified.envelope.origin == key.public_key


async def test_a_worker_holding_another_key_signs_nothing(tmp_path: Path) -> None:
    mine, other = _node(tmp_path / "mine"), _node(tmp_path / "other")
    signer = Signer(other.path)
    try:
        with pytest.raises(RuntimeError, match="another key"):
            await signer.sign(mine.load_key().public_key, [b"envelope"])
    finally:
        signer.close()
