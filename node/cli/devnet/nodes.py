"""The dev network's nodes: their data directories, configs, membership and tokens."""

import asyncio
import datetime
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from node.cli.common import opened_store
from node.cli.devnet.demo import city_for, demo_records
from node.config import DEFAULT_PORT, DEMO_NETWORK
from node.datadir import DataDir
from node.membership import decide
from node.moderation.keyfile import save_moderator_key
from node.publishing import publish
from protocol.keys import NodeKey
from protocol.sealing import ModeratorKey, ModeratorPublicKey
from storage.store import Store
from storage.tokens import Role

DEV_NETWORK = DEMO_NETWORK
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


def prepare(root: Path, ports: list[int], *, demo: bool = True) -> list[DevNode]:
    """Create the nodes' data directories, configs, membership records and tokens, and
    with ``demo`` each node's demo records (:mod:`.demo`)."""
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
    asyncio.run(_admit_and_issue_tokens(nodes, moderator.public, demo))
    return nodes


def dev_config(template: str, node: DevNode, peer: DevNode | None) -> str:
    """``banscan init``'s config with this node's port, URL, name, city and short sync
    timers, and a ``[site]`` that says the node holds demo data."""
    city = city_for(node.number)
    about = (
        f"DEMO chapter in {city.name}, made up by banscan dev-network to show how a "
        "chapter's site looks. Its cameras and incidents are invented."
    )
    about_es = (
        f"Grupo de DEMOSTRACIÓN en {city.name}, inventado por banscan dev-network para "
        "mostrar cómo es el sitio de un grupo. Sus cámaras e incidentes son ficticios."
    )
    edits = {
        "node": (
            (f"port = {DEFAULT_PORT}", f"port = {node.port}"),
            ('name = ""', f'name = "DEMO {node.name}"'),
            ('city = ""', f'city = "{city.name}"'),
            ('country = ""', f'country = "{city.country}"'),
            ("urls = []", f'urls = ["{node.url}"]'),
        ),
        "federation": (
            ("sync_interval_s = 30", f"sync_interval_s = {SYNC_INTERVAL_S}"),
            ("max_backoff_s = 600", f"max_backoff_s = {MAX_BACKOFF_S}"),
        ),
        "site": (
            ('name = ""', f'name = "DEMO {node.name}"'),
            ("about = {}", f'about = {{ en = "{about}", es = "{about_es}" }}'),
        ),
    }
    text = template
    for section, changes in edits.items():
        text = _edit_section(text, section, changes)
    if peer is not None:
        text += f'\n[[peers]]\nurl = "{peer.url}"\nkey = "{peer.key.text}"\n'
    return text


def _edit_section(text: str, section: str, changes: tuple[tuple[str, str], ...]) -> str:
    """``text`` with each line ``old`` of ``[section]`` replaced by ``new``."""
    start = text.find(f"\n[{section}]\n")
    if start < 0:
        raise DevNetworkError(f"the config template has no [{section}] section")
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    for old, new in changes:
        if body.count(f"\n{old}\n") != 1:
            raise DevNetworkError(f"the config template has no line {old!r} in [{section}]")
        body = body.replace(f"\n{old}\n", f"\n{new}\n")
    return text[:start] + body + text[end:]


async def _publish_demo(store: Store, node: DevNode) -> None:
    """The node's demo records (:mod:`.demo`), public, signed as the node."""
    config = node.data_dir.load_config()
    today = datetime.datetime.fromtimestamp(store.clock() / 1000, datetime.UTC).date()
    for kind, body in demo_records(node.number, today):
        await publish(
            store.records,
            node.key,
            network_id=config.network.id,
            limits=config.limits.limits(),
            kind=kind,
            audience="public",
            body=body,
            clock=store.clock,
        )


async def _admit_and_issue_tokens(
    nodes: list[DevNode], moderator: ModeratorPublicKey, demo: bool
) -> None:
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
                        name=f"DEMO {member.name}",
                        city=city_for(member.number).name,
                        country=city_for(member.number).country,
                    )
            if demo:
                await _publish_demo(store, node)
            node.token = await store.tokens.create(Role.ADMIN, "dev-network")
