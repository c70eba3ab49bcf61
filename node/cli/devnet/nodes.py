"""The dev network's nodes: their data directories, configs, membership and tokens."""

import asyncio
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from node.cli.common import opened_store
from node.config import DEFAULT_PORT
from node.datadir import DataDir
from node.membership import decide
from node.moderation.keyfile import save_moderator_key
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
    save_moderator_key(moderator, root / MODERATOR_KEY_FILE)
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
