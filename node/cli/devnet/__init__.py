"""``banscan dev-network``: a small network of real nodes on 127.0.0.1, for demos and newcomers.

It makes N data directories under one directory, on their own network id
(``banscan-dev``, so nothing signed in it is valid on a real network). Node 1
is the steward; the others trust it as their steward and it admits them as
chapters with ``membership`` records (the code path of ``banscan members
admit``). Every node lists node 1 as a ``[[peers]]`` bootstrap peer and
announces its own URL, so each finds the rest; they sync every few seconds.
Each gets an admin token, and takes reports from the public sealed to one demo
moderator key, written to ``moderator.key`` in that directory (a real
moderator's key never sits on a server). The nodes run as child processes
(``banscan run``), logging to ``node.log`` in their data directories; on
SIGINT or SIGTERM all are stopped gracefully and the command exits 0.

Each node also publishes demo records in its city (:mod:`.demo`), every one
marked as made up, so a newcomer's first look at a node's site shows a living
map; ``--no-demo-data`` leaves them out.

The nodes are set up by :mod:`.nodes` and run, watched and stopped by
:mod:`.processes`; this module holds the command and its banner.
"""

import argparse
import shutil
import tempfile
import threading
from pathlib import Path

from node.cli.devnet.nodes import (
    DEV_NETWORK,
    HOST,
    MAX_NODES,
    MODERATOR_KEY_FILE,
    SYNC_INTERVAL_S,
    DevNetworkError,
    DevNode,
    port_free,
    prepare,
)
from node.cli.devnet.processes import start, stop_all, stopping_on_signals, wait_serving, watch
from node.cli.registrar import Registrar
from node.config import DEFAULT_PORT

__all__ = ["DevNetworkError", "register"]


DESCRIPTION = f"""\
Start a small banscan network on this machine, for demos, trying the API and
learning how nodes federate. Nothing here is for production.

It creates N nodes (data directories node-1 ... node-N in DIR) on the network
id "banscan-dev", and serves them on http://127.0.0.1:P ... P+N-1:
  - node-1 is the steward; it admits every other node as a chapter;
  - every node has node-1 as its bootstrap peer and finds the others from
    their "node" records; they sync every {SYNC_INTERVAL_S} seconds and push new records at once;
  - every node gets an admin token;
  - every node publishes demo records in its city (London, Madrid, Berlin, ...):
    a few cameras and incidents, each marked DEMO, so its site's home page, map
    and statistics have something to show (--no-demo-data: none).
It prints a table of each node's URL, key and admin token, then runs until
Ctrl-C (SIGINT) or SIGTERM, stops every node gracefully and exits 0. Each
node logs to DIR/node-N/node.log.

Without --dir the nodes live in a new temporary directory that is removed on
exit; with --dir they are kept there (DIR must not already hold nodes).
If a port is in use, it says which and starts nothing."""


def register(cli: Registrar) -> None:
    """Add ``dev-network`` (it takes no --data-dir)."""
    sub = cli.command(
        "dev-network",
        "Run a network of N local nodes for demos and newcomers, until Ctrl-C.",
        cmd_dev_network,
    )
    sub.description = DESCRIPTION
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.add_argument(
        "--nodes",
        type=int,
        default=3,
        metavar="N",
        help=f"how many nodes, 1 to {MAX_NODES} (default: 3)",
    )
    sub.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"node-1 listens on P, node-2 on P+1, ... (default: {DEFAULT_PORT})",
    )
    sub.add_argument(
        "--no-demo-data",
        action="store_true",
        help="publish no demo records (by default each node publishes a few dozen, marked DEMO)",
    )
    sub.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to keep the nodes' data directories (default: a temporary directory, "
        "removed on exit)",
    )


def cmd_dev_network(args: argparse.Namespace) -> int:
    count: int = args.nodes
    base: int = args.base_port
    if not 1 <= count <= MAX_NODES:
        raise DevNetworkError(f"--nodes must be from 1 to {MAX_NODES}")
    if not 1 <= base <= 65536 - count:
        raise DevNetworkError(f"--base-port must be from 1 to {65536 - count} for {count} nodes")
    ports = list(range(base, base + count))
    for port in ports:
        if not port_free(port):
            raise DevNetworkError(
                f"port {port} on {HOST} is in use; choose other ports with --base-port"
            )
    keep = args.dir is not None
    root: Path = args.dir if keep else Path(tempfile.mkdtemp(prefix="banscan-dev-network-"))
    if keep:
        taken = sorted(p.name for p in root.glob("node-*")) if root.is_dir() else []
        if taken:
            raise DevNetworkError(
                f"{root} already holds {', '.join(taken)}; use another --dir or remove them"
            )
    stop = threading.Event()
    nodes: list[DevNode] = []
    with stopping_on_signals(stop):
        try:
            nodes = prepare(root, ports, demo=not args.no_demo_data)
            for node in nodes:
                start(node)
            for node in nodes:
                if not wait_serving(node, stop):
                    return 0
            print(_banner(root, nodes, keep), flush=True)
            return watch(nodes, stop)
        finally:
            stop_all(nodes)
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
            print("all nodes stopped", flush=True)


def _banner(root: Path, nodes: list[DevNode], keep: bool) -> str:
    rows = [("node", "role", "url", "key", "admin token")]
    rows += [(n.name, n.role, n.url, n.key.text, n.token) for n in nodes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
    where = "kept after exit" if keep else "removed on exit"
    first = nodes[0]
    return f"""\
banscan dev network {DEV_NETWORK!r}: {len(nodes)} node(s), data in {root} ({where})

{table}

node-1 is the steward and has admitted the others as chapters. Every node has
node-1 as its bootstrap peer and finds the others from their node records; they
sync every {SYNC_INTERVAL_S} s and push new records at once. Logs: {root}/node-N/node.log

Open {first.url}/ (the home page) and {first.url}/map: every node holds demo
records (marked DEMO) and shows them once the nodes have synced.

Try:
  curl {first.url}/api/v1/records
  curl -H 'Authorization: Bearer {first.token}' {first.url}/api/v1/federation/peers

Reports from the public: open {first.url}/report, then review them with the demo
moderator key ({root / MODERATOR_KEY_FILE}):
  BANSCAN_TOKEN={first.token} banscan submissions list --node {first.url}

Press Ctrl-C to stop every node."""
