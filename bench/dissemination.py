"""Dissemination benchmark: in how many rounds a new record reaches every node.

Run from the repository root::

    python -m bench.dissemination                          # 100 and 1,000 nodes
    python -m bench.dissemination --nodes 100 --trials 10  # a quick run

An in-process network of real nodes: each has its own SQLite store (a copy
of one template, on /dev/shm when it exists, ``synchronous=normal``), the
real :class:`~federation.service.SyncService` and
:class:`~federation.sync.SyncClient`, and the real
:class:`~federation.gossip.Gossip` (peer choice, eager push, backoff) driven
round by round with a simulated clock. Only the network is in memory
(:class:`~federation.sync.LocalTransport`, sharing one ``offline`` set); one
:class:`~federation.verifier.Verifier` checks every node's batches.

**Membership**: one steward key, not a node, signs one ``membership`` record
admitting each node (as a chapter); the template store ingests them through
the real ingest path, so every node's trust knows every member before timing.
**Peers**: full membership: every node's peer table lists every other node
(as ``node`` records would after discovery). Fanout is 3.

**A round** (one ``sync_interval_s``, 30 s of simulated clock):

1. every node that received records by push in the previous round (in round
   1: the node that published the record) pushes them on with
   :meth:`Gossip.push_now` to ``fanout`` peers chosen at random among those
   not in backoff, never back to the sender. As in a node, records a node
   *pulled* are not pushed on (``federation/runtime.py`` forwards only what
   arrives by push);
2. every online node runs one anti-entropy session
   (:meth:`Gossip.choose`, then :meth:`Gossip.sync_with`: push-pull with one
   peer, weighted toward the least recently synced).

A round moves a record one hop at most: the sessions in which neither side
held the record when the round began run first, then the other sessions and
the pushes, all concurrently. A trial publishes one new record at a random
online node and counts rounds until every online node holds it. Trials run one
after another on the same network, so peers' sync history and backoff carry
over. With ``--offline`` a fixed random share of the nodes never answers.

It reports and does not assert: the exit status is 0 even when a target is
missed, 1 only when the benchmark itself could not run, 2 for bad arguments.
"""

import argparse
import asyncio
import logging
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from bench import harness
from bench.harness import Table
from bench.simnet import FANOUT, INTERVAL_S, Network, Push, SimNode, build, close, publish
from federation.gossip import PUSH_ROUNDS
from protocol.records import SignedRecord
from storage.peers import Peer

TARGET_ROUNDS = 6
TARGET_NODES = 1000
PEERS = 20


# --- rounds ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    rounds: int | None  # None: not every online node held the record after the last round
    reached: list[int]  # online nodes holding the record after each round
    seconds: float


async def one_round(network: Network) -> None:
    held = set(network.holders)
    online = network.online()
    pushers = [(node, node.inbox) for node in online if node.inbox]
    for node in online:
        node.inbox = []
    choices = await asyncio.gather(*(node.gossip.choose() for node in online))
    sessions = [(node, peer) for node, peer in zip(online, choices, strict=True) if peer]

    def touches_held(node: SimNode, peer: Peer) -> bool:
        return node.index in held or network.index_of.get(peer.key) in held

    # Sessions between two nodes without the record first: nothing that arrives
    # later in this round can then travel a second hop through them.
    await asyncio.gather(
        *(node.gossip.sync_with(peer) for node, peer in sessions if not touches_held(node, peer))
    )
    jobs = [(node, push) for node, inbox in pushers for push in inbox]
    _, productive = await asyncio.gather(
        asyncio.gather(
            *(node.gossip.sync_with(peer) for node, peer in sessions if touches_held(node, peer))
        ),
        asyncio.gather(
            *(node.gossip.push_now(push.records, push.source, push.tried) for node, push in jobs)
        ),
    )
    # As Gossip.run_pusher does: a push that still found peers lacking the records is
    # followed by another, to fanout more peers, in the next round (at most PUSH_ROUNDS).
    for (node, push), spreading in zip(jobs, productive, strict=True):
        if spreading and push.rounds + 1 < PUSH_ROUNDS:
            node.inbox.append(Push(push.records, push.source, push.tried, push.rounds + 1))
    # A push answered "seq-gap" starts a session in the background: it belongs to this round.
    while tasks := [t for t in asyncio.all_tasks() if t.get_name().startswith("gossip-session")]:
        await asyncio.gather(*tasks, return_exceptions=True)
    network.clock.now_ms += INTERVAL_S * 1000


async def trial(network: Network, rng: random.Random, max_rounds: int) -> Trial:
    began = time.perf_counter()
    online = network.online()
    origin = rng.choice(online)
    record = await publish(network, origin)
    network.watched = record.id
    network.holders = {origin.index}
    origin.inbox.append(Push([record], None))  # a publishing node pushes at once
    reached = []
    rounds = None
    wanted = {node.index for node in online}
    for number in range(1, max_rounds + 1):
        await one_round(network)
        reached.append(len(network.holders & wanted))
        if wanted <= network.holders:
            rounds = number
            break
    if rounds is not None:
        await check_holders(network, origin, record)
    return Trial(rounds, reached, time.perf_counter() - began)


async def check_holders(network: Network, origin: SimNode, record: SignedRecord) -> None:
    """Make sure the bookkeeping matches the stores: every online node holds the record."""
    feed = (origin.key.public_key, "public")
    for node in network.online():
        vector = await node.store.feeds.vector(("public",))
        if vector.get(feed, 0) < origin.seq:
            raise RuntimeError(f"node {node.index} lacks record {record.id.hex()[:12]}")


# --- report ------------------------------------------------------------------------------


def percentile(values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Scenario:
    nodes: int
    offline_share: float
    trials: list[Trial]
    setup_s: float


TABLE = Table(measure=46, value=12, target=10)
row = TABLE.row


def report(scenario: Scenario) -> list[str]:
    done = [t.rounds for t in scenario.trials if t.rounds is not None]
    online = scenario.nodes - round(scenario.nodes * scenario.offline_share)
    label = f"{scenario.nodes:,} nodes, {scenario.offline_share:.0%} offline"
    lines = [f"  {label}: {len(scenario.trials)} trials, {online:,} online nodes to reach"]
    if not done:
        return [*lines, "  ERROR no trial reached every online node"]
    p50, p99 = percentile(done, 0.5), percentile(done, 0.99)
    at_target = scenario.nodes >= TARGET_NODES
    lines += [
        row(
            "    rounds until every online node, p50",
            f"{p50}",
            f"<= {TARGET_ROUNDS}" if at_target else "",
            ("ok" if p50 <= TARGET_ROUNDS else "ABOVE TARGET") if at_target else "",
        ),
        row(
            "    rounds until every online node, p99",
            f"{p99}",
            f"<= {TARGET_ROUNDS}" if at_target else "",
            ("ok" if p99 <= TARGET_ROUNDS else "ABOVE TARGET") if at_target else "",
        ),
        row("    mean / max", f"{statistics.mean(done):.2f} / {max(done)}"),
    ]
    if len(done) < len(scenario.trials):
        lines.append(f"  {len(scenario.trials) - len(done)} trials did not reach every node")
    depth = max(len(t.reached) for t in scenario.trials)
    curve = [
        statistics.mean((t.reached[r] if r < len(t.reached) else online) for t in scenario.trials)
        for r in range(depth)
    ]
    lines.append(
        "    share holding the record after each round: "
        + " ".join(f"{share / online:.0%}" for share in curve)
    )
    seconds = [t.seconds for t in scenario.trials]
    lines.append(
        f"    wall time per trial {statistics.mean(seconds):.1f} s; setup {scenario.setup_s:.1f} s"
    )
    return lines


async def run_scenario(
    root: Path,
    nodes: int,
    offline_share: float,
    peers: int,
    trials: int,
    max_rounds: int,
    seed: int,
    *,
    forward_pulled: bool,
) -> Scenario:
    began = time.perf_counter()
    network = await build(root, nodes, offline_share, peers, seed, forward_pulled=forward_pulled)
    setup = time.perf_counter() - began
    rng = random.Random(seed)
    try:
        results = []
        for number in range(trials):
            result = await trial(network, rng, max_rounds)
            results.append(result)
            print(
                f"    trial {number + 1}: {result.rounds or 'not reached after ' + str(max_rounds)}"
                f" rounds, {result.seconds:.1f} s",
                flush=True,
            )
    finally:
        await close(network)
    return Scenario(nodes, offline_share, results, setup)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dissemination",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--nodes", type=int, nargs="+", default=[100, 1000], metavar="N", help="(100 1000)"
    )
    parser.add_argument(
        "--offline",
        type=float,
        nargs="+",
        default=[0.0, 0.2],
        metavar="SHARE",
        help="share of nodes offline, one run each (0 0.2)",
    )
    parser.add_argument(
        "--peers",
        type=int,
        default=PEERS,
        help=f"peers each node knows, chosen at random; 0 for every other node ({PEERS})",
    )
    parser.add_argument("--trials", type=int, default=20, help="trials per run (20)")
    parser.add_argument(
        "--forward-pulled",
        action="store_true",
        help="also push on records a node pulled in a session (a node does not, today)",
    )
    parser.add_argument("--max-rounds", type=int, default=30, help="give a trial up after (30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where the stores go")
    args = parser.parse_args(argv)
    if any(n < 4 for n in args.nodes) or args.trials < 1 or args.max_rounds < 1:
        parser.error("--nodes must be >= 4, --trials and --max-rounds >= 1")
    if args.peers < 0 or 0 < args.peers < FANOUT:
        parser.error(f"--peers must be 0 (everyone) or at least the fanout, {FANOUT}")
    if any(not 0 <= share < 1 for share in args.offline):
        parser.error("--offline shares must be from 0 to below 1")
    return args


def stores_dir(chosen: Path | None) -> Path | None:
    """Where the stores go: the chosen directory, else /dev/shm, else the temporary one."""
    shm = Path("/dev/shm")
    return chosen or (shm if shm.is_dir() else None)


async def run(args: argparse.Namespace) -> int:
    # Every unreachable peer logs a warning; only errors belong in this report.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    base = stores_dir(args.dir)
    scenarios = []
    for nodes in args.nodes:
        for share in args.offline:
            print(f"{nodes:,} nodes, {share:.0%} offline:", flush=True)
            with tempfile.TemporaryDirectory(prefix="banscan-bench-dissem-", dir=base) as tmp:
                scenarios.append(
                    await run_scenario(
                        Path(tmp),
                        nodes,
                        share,
                        args.peers,
                        args.trials,
                        args.max_rounds,
                        args.seed,
                        forward_pulled=args.forward_pulled,
                    )
                )
    print(
        f"\n  peers: {args.peers or 'every other node'} per node"
        + (", chosen at random" if args.peers else "")
        + (
            "\n  --forward-pulled: records pulled in a session are pushed on too"
            if args.forward_pulled
            else ""
        )
        + f"\n  a round: nodes that received records by push in the previous round push them to "
        f"{FANOUT} peers, and every online node runs one anti-entropy session with one peer "
        f"(one {INTERVAL_S} s sync interval)"
    )
    for scenario in scenarios:
        print("\n".join(report(scenario)))
    return 0 if all(any(t.rounds for t in s.trials) for s in scenarios) else 1


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("dissemination", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
