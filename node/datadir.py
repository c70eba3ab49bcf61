"""The data directory: the node key (mode 0600), ``banscan.toml`` and the database.

:func:`open_node_store` opens a node's database as its config asks; ``banscan run``,
the CLI's commands and the dev network all open it through it.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.config import (
    CONFIG_FILE,
    DATABASE_FILE,
    KEY_FILE,
    URL_FILE,
    Config,
    config_template,
    load_config,
    steward_keys,
)
from protocol.errors import KeyFormatError
from protocol.keys import NodeKey
from storage.store import Store, wall_clock_ms


class DataDirError(Exception):
    """The data directory is missing, incomplete or unsafe; the message says how to fix it."""


@dataclass(frozen=True)
class DataDir:
    path: Path

    @property
    def key_file(self) -> Path:
        return self.path / KEY_FILE

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def database(self) -> Path:
        return self.path / DATABASE_FILE

    @property
    def url_file(self) -> Path:
        """Where a running node writes the URL it serves (removed when it stops)."""
        return self.path / URL_FILE

    def running_url(self) -> str | None:
        try:
            return self.url_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def is_initialised(self) -> bool:
        return self.key_file.exists()

    def init(self, network_id: str, stewards: list[str]) -> NodeKey:
        """Create a node key and a documented config; refuses to overwrite an existing node."""
        if self.is_initialised():
            raise DataDirError(f"{self.path} already holds a node key; refusing to replace it")
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Also tighten a directory that already existed: it will hold the key and database.
        self.path.chmod(0o700)
        key = NodeKey.generate()
        _write_key(self.key_file, key)
        if not self.config_file.exists():
            self.config_file.write_text(config_template(network_id, stewards), encoding="utf-8")
        return key

    def load_key(self) -> NodeKey:
        if not self.is_initialised():
            raise DataDirError(
                f"no node in {self.path}: run 'banscan init --data-dir {self.path}' first"
            )
        mode = self.key_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise DataDirError(
                f"{self.key_file} is readable by others (mode {mode:o}); run 'chmod 600' on it"
            )
        try:
            return NodeKey.from_pem(self.key_file.read_bytes())
        except KeyFormatError as exc:
            raise DataDirError(f"{self.key_file}: {exc.detail}") from exc

    def load_config(self) -> Config:
        return load_config(self.path)

    def rotate_key(self, stamp: str) -> tuple[NodeKey, NodeKey, Path]:
        """Replace the node key with a new one; the old one is kept, mode 0600, as
        ``node.key.retired-<stamp>``. Returns (old key, new key, where the old one is)."""
        old = self.load_key()
        retired = self.path / f"{KEY_FILE}.retired-{stamp}"
        if retired.exists():
            raise DataDirError(f"{retired} already exists; refusing to overwrite a retired key")
        new = NodeKey.generate()
        pending = self.path / f"{KEY_FILE}.new"
        pending.unlink(missing_ok=True)
        _write_key(pending, new)
        os.link(self.key_file, retired)
        os.replace(pending, self.key_file)
        _fsync_dir(self.path)
        return old, new, retired


def _write_key(path: Path, key: NodeKey) -> None:
    """Write ``key`` to a new file readable by its owner only, and sync it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_data_dir() -> Path:
    """``$BANSCAN_DATA_DIR``, else ``$XDG_DATA_HOME/banscan``, else ``~/.local/share/banscan``."""
    if explicit := os.environ.get("BANSCAN_DATA_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "banscan"


async def open_node_store(
    database: Path,
    config: Config,
    own_key: bytes,
    *,
    clock: Callable[[], int] = wall_clock_ms,
) -> Store:
    """The node's store at ``database``, opened with ``config``'s durability, stewards
    (the node itself when none are configured) and quarantine bound."""
    return await Store.open(
        database,
        synchronous=config.storage.synchronous,
        clock=clock,
        stewards=steward_keys(config, own_key),
        quarantine_max_bytes=config.federation.quarantine_max_bytes,
    )
