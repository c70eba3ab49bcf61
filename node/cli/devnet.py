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
"""

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from node.cli.common import opened_store
from node.cli.registrar import Registrar
from node.config import DEFAULT_PORT, ENV_PREFIX
from node.datadir import DataDir
from node.membership import decide
from protocol.keys import NodeKey
from protocol.sealing import ModeratorKey, ModeratorPublicKey
from storage.tokens import Role

DEV_NETWORK = "banscan-dev"
MODERATOR_KEY_FILE = "moderator.key"
MAX_NODES = 16
SYNC_INTERVAL_S = 5
MAX_BACKOFF_S = 10
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0  # a node waits up to 30 s for requests in flight
HOST = "127.0.0.1"

DESCRIPTION = f"""\
Start a small banscan network on this machine, for demos, trying the API and
learning how nodes federate. Nothing here is for production.

It creates N nodes (data directories node-1 ... node-N in DIR) on the network
id "banscan-dev", and serves them on http://127.0.0.1:P ... P+N-1:
  - node-1 is the steward; it admits every other node as a chapter;
  - every node has node-1 as its bootstrap peer and finds the others from
    their "node" records; they sync every {SYNC_INTERVAL_S} seconds and push new records at once;
  - every node gets an admin token.
It prints a table of each node's URL, key and admin token, then runs until
Ctrl-C (SIGINT) or SIGTERM, stops every node gracefully and exits 0. Each
node logs to DIR/node-N/node.log.

Without --dir the nodes live in a new temporary directory that is removed on
exit; with --dir they are kept there (DIR must not already hold nodes).
If a port is in use, it says which and starts nothing."""


class DevNetworkError(Exception):
    """The dev network cannot start or keep running; the message says why."""


@dataclass
class DevNode:
    number: int
    data_dir: DataDir
    port: int
    key: NodeKey
    token: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"node-{self.number}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir.path / "node.log"

    @property
    def role(self) -> str:
        return "steward" if self.number == 1 else "chapter"


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
    with _stopping_on_signals(stop):
        try:
            nodes = prepare(root, ports)
            for node in nodes:
                start(node)
            for node in nodes:
                if not wait_serving(node, stop):
                    return 0
            print(_banner(root, nodes, keep), flush=True)
            return _watch(nodes, stop)
        finally:
            stop_all(nodes)
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
            print("all nodes stopped", flush=True)


# -- setting up ---------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the node's server binds: a port in TIME_WAIT is free, one listened on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def prepare(root: Path, ports: list[int]) -> list[DevNode]:
    """Create the nodes' data directories, configs, membership records and tokens."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    nodes: list[DevNode] = []
    for number, port in enumerate(ports, start=1):
        data_dir = DataDir(root / f"node-{number}")
        stewards = [nodes[0].key.text] if nodes else []
        key = data_dir.init(DEV_NETWORK, stewards)
        nodes.append(DevNode(number, data_dir, port, key))
    steward = nodes[0]
    for node in nodes:
        peer = None if node is steward else steward
        node.data_dir.config_file.write_text(
            dev_config(node.data_dir.config_file.read_text(encoding="utf-8"), node, peer),
            encoding="utf-8",
        )
        node.data_dir.load_config()  # fails here, naming the key, if an edit went wrong
    moderator = ModeratorKey.generate()
    moderator.save(root / MODERATOR_KEY_FILE)
    asyncio.run(_admit_and_issue_tokens(nodes, moderator.public))
    return nodes


def dev_config(template: str, node: DevNode, peer: DevNode | None) -> str:
    """``banscan init``'s config with this node's port, URL, name and short sync timers."""
    text = template
    for old, new in (
        (f"port = {DEFAULT_PORT}", f"port = {node.port}"),
        ('name = ""', f'name = "{node.name}"'),
        ("urls = []", f'urls = ["{node.url}"]'),
        ("sync_interval_s = 30", f"sync_interval_s = {SYNC_INTERVAL_S}"),
        ("max_backoff_s = 600", f"max_backoff_s = {MAX_BACKOFF_S}"),
    ):
        if text.count(f"\n{old}\n") != 1:
            raise DevNetworkError(f"the config template has no line {old!r} to change")
        text = text.replace(f"\n{old}\n", f"\n{new}\n")
    if peer is not None:
        text += f'\n[[peers]]\nurl = "{peer.url}"\nkey = "{peer.key.text}"\n'
    return text


async def _admit_and_issue_tokens(nodes: list[DevNode], moderator: ModeratorPublicKey) -> None:
    steward = nodes[0]
    for node in nodes:
        async with opened_store(node.data_dir) as store:
            await store.submissions.add_key(
                moderator.key_id, moderator.text, "dev-network", actor="dev-network"
            )
            if node is steward:
                for member in nodes[1:]:
                    await decide(
                        store,
                        node.key,
                        member.key.public_key,
                        "admit",
                        network_id=DEV_NETWORK,
                        limits=node.data_dir.load_config().limits.limits(),
                        role="chapter",
                        name=member.name,
                    )
            node.token = await store.tokens.create(Role.ADMIN, "dev-network")


# -- running ------------------------------------------------------------------------------


def start(node: DevNode) -> None:
    # The nodes' settings are their configs: the caller's BANSCAN_* variables stay out.
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    with node.log_file.open("ab") as log:
        # Our own interpreter running our own CLI, with arguments we built.
        node.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "node.cli",
                "run",
                "--data-dir",
                str(node.data_dir.path),
                "--host",
                HOST,
                "--port",
                str(node.port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
        )


def wait_serving(node: DevNode, stop: threading.Event) -> bool:
    """Wait until ``node`` serves; False if asked to stop meanwhile."""
    assert node.process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while node.data_dir.running_url() is None:
        if node.process.poll() is not None:
            raise DevNetworkError(
                f"{node.name} (port {node.port}) exited with status {node.process.returncode}:"
                f"\n{_log_tail(node)}"
            )
        if time.monotonic() > deadline:
            raise DevNetworkError(f"{node.name} did not start in {START_TIMEOUT_S:.0f} s")
        if stop.wait(0.05):
            return False
    return True


def _watch(nodes: list[DevNode], stop: threading.Event) -> int:
    """Until a signal: a node that stops on its own ends the network."""
    while not stop.wait(0.2):
        for node in nodes:
            assert node.process is not None
            status = node.process.poll()
            if status is None:
                continue
            if status == 0:  # stopped by a signal of its own (Ctrl-C reaches every node)
                return 0
            raise DevNetworkError(
                f"{node.name} exited with status {status}; stopping the others:\n{_log_tail(node)}"
            )
    return 0


def stop_all(nodes: list[DevNode]) -> None:
    running = [n for n in nodes if n.process is not None and n.process.poll() is None]
    for node in running:
        assert node.process is not None
        with contextlib.suppress(ProcessLookupError):
            node.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for node in running:
        assert node.process is not None
        try:
            node.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


@contextlib.contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- output -------------------------------------------------------------------------------


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

Try:
  curl {first.url}/api/v1/records
  curl -H 'Authorization: Bearer {first.token}' {first.url}/api/v1/federation/peers

Reports from the public: open {first.url}/report, then review them with the demo
moderator key ({root / MODERATOR_KEY_FILE}):
  BANSCAN_TOKEN={first.token} banscan submissions list --node {first.url}

Press Ctrl-C to stop every node."""


def _log_tail(node: DevNode, lines: int = 10) -> str:
    try:
        with node.log_file.open(encoding="utf-8", errors="replace") as log:
            return "".join(collections.deque(log, maxlen=lines)).rstrip()
    except OSError:
        return "(no log)"
