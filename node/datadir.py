"""The data directory: the node key (mode 0600), ``banscan.toml`` and the database.

:func:`open_node_store` opens a node's database as its config asks; ``banscan run``,
the CLI's commands and the dev network all open it through it.

One ``banscan run`` at a time serves a data directory: it holds an exclusive
``flock`` on ``node.lock`` (:meth:`DataDir.lock`) for as long as it runs. The
kernel releases it when the process ends, however it ends (``kill -9``
included), so a lock is never left stale; the pid written in the file only
helps the message. Two servers on one directory would sign with one key from
two processes, which the network sees as a fork.
"""

import errno
import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.config import (
    CONFIG_FILE,
    DATABASE_FILE,
    KEY_FILE,
    LOCK_FILE,
    URL_FILE,
    Config,
    load_config,
    steward_keys,
)
from node.configtemplate import config_template
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

    @property
    def lock_file(self) -> Path:
        """What ``banscan run`` holds locked while it runs (:meth:`lock`)."""
        return self.path / LOCK_FILE

    def lock(self) -> "RunLock":
        """Hold the data directory for one ``banscan run``; DataDirError if another holds it.

        The lock lasts until :meth:`RunLock.release` or the end of the process."""
        try:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DataDirError(f"cannot create {self.lock_file}: {exc.strerror or exc}") from exc
        # A moment's retry: ``banscan status`` takes the lock shared for an instant to
        # see whether anyone holds it, and must not make a starting node refuse.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise DataDirError(f"cannot lock {self.lock_file}: {exc.strerror}") from exc
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise DataDirError(self._in_use_message()) from exc
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return RunLock(fd, self.lock_file)

    def _in_use_message(self) -> str:
        pid = self.lock_holder()
        who = "another banscan run" + (f" (pid {pid})" if pid else "")
        url = self.running_url()
        where = f" at {url}" if url else ""
        return (
            f"{who} is already serving the node in {self.path}{where}. Two servers must never "
            "share a data directory (they would sign with one key as two nodes): stop that "
            "one first, or give this one another --data-dir"
        )

    def lock_holder(self) -> int | None:
        """The pid of the ``banscan run`` that holds this data directory, None if none does.

        A holder whose pid cannot be read counts as pid 0 (running, pid unknown)."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY)
        except OSError:
            return None  # never locked here
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return None
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                return int(text) if text.isdigit() else 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

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
        # The path, or the nearest part of it that exists, must be a directory.
        existing = next((p for p in (self.path, *self.path.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise DataDirError(
                f"{existing} is a file, not a directory: give --data-dir the path of a "
                "directory for the node (a new one is created), e.g. --data-dir ./mynode"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Also tighten a directory that already existed: it will hold the key and database.
            self.path.chmod(0o700)
            key = NodeKey.generate()
            _write_key(self.key_file, key)
            if not self.config_file.exists():
                self.config_file.write_text(config_template(network_id, stewards), encoding="utf-8")
        except OSError as exc:
            where = exc.filename or self.path
            raise DataDirError(
                f"cannot create the node in {self.path}: {where}: {exc.strerror or exc}; "
                "give --data-dir a directory you can write to"
            ) from exc
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


class RunLock:
    """The data directory held by this process (:meth:`DataDir.lock`)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    def release(self) -> None:
        """Let another ``banscan run`` have the directory (also done by the process ending)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


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
