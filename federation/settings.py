"""What federation needs to know of its node, read once from the node's configuration.

``federation`` may not import ``node``, so the node builds these from its
``banscan.toml`` (``node.api.federation``) and hands them over.
"""

from dataclasses import dataclass

from protocol.limits import Limits


@dataclass(frozen=True)
class Announcement:
    """What this node says of itself in its ``node`` record (docs/records.md)."""

    urls: tuple[str, ...]
    name: str
    city: str | None
    country: str | None
    software: str


@dataclass(frozen=True)
class FederationSettings:
    network_id: str
    limits: Limits
    # Peers from ``[[peers]]``: (key, url), synced with from the start.
    peers: tuple[tuple[bytes, str], ...] = ()
    # None when the node has no public URL, and so announces nothing.
    announcement: Announcement | None = None
    fanout: int = 3
    sync_interval_s: float = 30
    timeout_s: float = 30
    max_sessions: int = 8
    max_backoff_s: float = 600

    @property
    def max_answer_bytes(self) -> int:
        """The most of a peer's answer read: a full batch, and room for its framing."""
        return self.limits.max_batch_bytes + 64 * 1024
