"""Node configuration: one TOML file in the data directory, overridable from the environment.

Every key ``[section] key`` can be overridden by ``BANSCAN_SECTION_KEY``
(for example ``BANSCAN_NODE_PORT=9000``); list values are comma-separated.
The whole tree is validated once at start-up, and an error names the key.
"""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from node.deadlines import LawDeadline
from protocol.envelope import NETWORK_ID_PATTERN, Audience
from protocol.fields import CountryCode, HttpUrl, KeyText, LongText, Text
from protocol.keys import parse_key_text
from protocol.limits import Limits

CONFIG_FILE = "banscan.toml"
KEY_FILE = "node.key"
DATABASE_FILE = "banscan.db"
URL_FILE = "node.url"
LOCK_FILE = "node.lock"
ENV_PREFIX = "BANSCAN_"
# Environment variables that are not config keys.
ENV_NOT_KEYS = frozenset({"BANSCAN_DATA_DIR", "BANSCAN_TOKEN"})
DEFAULT_NETWORK = "banthescan"
# The network id of ``banscan dev-network``: nothing signed on it is valid elsewhere,
# and the public site marks every page of a node on it as demo data.
DEMO_NETWORK = "banscan-dev"
DEFAULT_PORT = 8470


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the problem."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeSection(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_PORT
    verify_threads: Annotated[int, Field(ge=0, le=64)] = 0
    # How this node describes itself in its ``node`` record; peers find it at ``urls``.
    name: Text = ""
    city: Text = ""
    country: CountryCode | Literal[""] = ""
    urls: Annotated[list[HttpUrl], Field(max_length=8)] = []


class NetworkSection(Section):
    id: Annotated[str, Field(pattern=f"^{NETWORK_ID_PATTERN.pattern}$")] = DEFAULT_NETWORK
    stewards: list[KeyText] = []


# The largest limits any node may configure. ``banscan verify`` checks bundles
# against these, so a bundle from a node with raised limits still verifies.
LIMITS_CEILING = Limits(
    max_envelope_bytes=4096,
    max_body_bytes=1 << 20,
    max_batch_records=10_000,
    max_batch_bytes=64 << 20,
)


class LimitsSection(Section):
    max_envelope_bytes: Annotated[int, Field(ge=128, le=LIMITS_CEILING.max_envelope_bytes)] = 512
    max_body_bytes: Annotated[int, Field(ge=1024, le=LIMITS_CEILING.max_body_bytes)] = 64 * 1024
    max_batch_records: Annotated[int, Field(ge=1, le=LIMITS_CEILING.max_batch_records)] = 500
    max_batch_bytes: Annotated[int, Field(ge=1 << 16, le=LIMITS_CEILING.max_batch_bytes)] = 4 << 20

    def limits(self) -> Limits:
        return Limits(
            max_envelope_bytes=self.max_envelope_bytes,
            max_body_bytes=self.max_body_bytes,
            max_batch_records=self.max_batch_records,
            max_batch_bytes=self.max_batch_bytes,
        )


class FederationSection(Section):
    fanout: Annotated[int, Field(ge=1, le=16)] = 3
    sync_interval_s: Annotated[int, Field(ge=1, le=86_400)] = 30
    timeout_s: Annotated[int, Field(ge=1, le=600)] = 30
    max_sessions: Annotated[int, Field(ge=1, le=256)] = 8
    max_backoff_s: Annotated[int, Field(ge=1, le=86_400)] = 600
    quarantine_max_bytes: Annotated[int, Field(ge=0, le=1 << 34)] = 64 << 20


class PeerEntry(Section):
    """A ``[[peers]]`` table: a peer this node syncs with from the start."""

    url: HttpUrl
    key: KeyText


class SubmissionsSection(Section):
    """Reports from the public; ``retention_days``: how long a decided one's private part stays."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Submissions one client may make in an hour, and all clients together (receipt checks
    # counted apart); a client is an in-memory keyed hash of its address, never stored.
    per_client_per_hour: Annotated[int, Field(ge=1, le=10_000)] = 10
    per_hour: Annotated[int, Field(ge=1, le=1_000_000)] = 600
    # Behind a TLS proxy: the client's address is the last X-Forwarded-For entry.
    trust_forwarded_for: bool = False
    # The largest submission accepted, in bytes of JSON or form data.
    max_bytes: Annotated[int, Field(ge=4096, le=1 << 20)] = 64 * 1024


class ModerationSection(Section):
    # Minutes a moderator's claim on a report lasts after its last claim or renewal.
    claim_minutes: Annotated[int, Field(ge=1, le=1440)] = 30
    # The audience a report of an incident is published to when the moderator does not
    # choose one (the desk's preselection, ``submissions publish`` without --audience);
    # deployments default to ``public``. docs/moderators.md, "Choosing the audience".
    incident_audience: Audience = "network"


class HttpSection(Section):
    """Limits on slow HTTP clients (node/connections.py); a client past one gets 408 or 429."""

    # Seconds for a request's line and headers to arrive, from its first byte.
    header_timeout_s: Annotated[int, Field(ge=1, le=600)] = 10
    # Seconds for a request's body to arrive whole, from the end of its headers.
    body_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 60
    # Seconds a connection may wait with no request under way before it is closed.
    idle_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 75
    # Connections one client may hold at once (not applied behind a proxy).
    max_connections_per_client: Annotated[int, Field(ge=1, le=100_000)] = 128


class StorageSection(Section):
    synchronous: Literal["normal", "full"] = "full"


class ReadsSection(Section):
    # Anonymous reads served at once, and waiting beyond those before a 503.
    anonymous_concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    anonymous_queue: Annotated[int, Field(ge=0, le=100_000)] = 512
    # Cache-Control max-age of anonymous answers; also how stale the node serves them when busy.
    max_age_s: Annotated[int, Field(ge=0, le=3600)] = 1
    cache_entries: Annotated[int, Field(ge=0, le=100_000)] = 1024


LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
Origin = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]
BasemapName = Annotated[str, Field(pattern=r"^(outlines|pmtiles:[A-Za-z0-9][A-Za-z0-9._-]{0,99})$")]


class SiteAction(Section):
    """A ``[[site.actions]]`` table: something a visitor can do, linked from the home page."""

    title: Text
    url: HttpUrl


class SiteSection(Section):
    """The public site (docs/site.md): who runs the node, what it says, how the map is drawn."""

    # The chapter's name and city as the pages show them; empty: [node] name and city.
    name: Text = ""
    city: Text = ""
    # A short text about the chapter and its privacy policy, per language
    # (``about = { en = "...", es = "..." }``); a language without one gets the first given.
    about: dict[LanguageCode, LongText] = {}
    privacy: dict[LanguageCode, LongText] = {}
    # How to reach the chapter: an e-mail address or a URL.
    contact: Text = ""
    # Campaign actions (a petition, a letter to the council): tables of title and url.
    actions: Annotated[list[SiteAction], Field(max_length=12)] = []
    # The map shows an area cell's incident count only when it holds at least this many;
    # smaller cells merge into their parent cell, so no single report can be located.
    min_incidents_per_cell: Annotated[int, Field(ge=2, le=1000)] = 3
    # How old the map's tiles and GeoJSON (and the incident groups they draw) may be
    # while writes arrive, and their Cache-Control max-age: a new, changed or retracted
    # record shows on the map at most this many seconds after it was written (docs/site.md).
    map_max_age_s: Annotated[int, Field(ge=1, le=300)] = 10
    # "outlines" (Natural Earth country outlines shipped with banscan) or
    # "pmtiles:FILE", a PMTiles extract in the data directory's basemap/ folder (docs/site.md).
    basemap: BasemapName = "outlines"
    # Origins allowed to show /embed/map in a frame (Content-Security-Policy frame-ancestors).
    embed_origins: Annotated[list[Origin], Field(max_length=32)] = []


class LogSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Config(Section):
    node: NodeSection = NodeSection()
    network: NetworkSection = NetworkSection()
    limits: LimitsSection = LimitsSection()
    federation: FederationSection = FederationSection()
    submissions: SubmissionsSection = SubmissionsSection()
    moderation: ModerationSection = ModerationSection()
    http: HttpSection = HttpSection()
    storage: StorageSection = StorageSection()
    reads: ReadsSection = ReadsSection()
    site: SiteSection = SiteSection()
    log: LogSection = LogSection()
    # ``[[peers]]`` and ``[[deadlines]]`` tables; not overridable from the environment.
    peers: list[PeerEntry] = []
    deadlines: Annotated[list[LawDeadline], Field(max_length=1000)] = []


def steward_keys(config: Config, own_key: bytes) -> frozenset[bytes]:
    """The network's stewards; a node with none configured is its own steward."""
    if not config.network.stewards:
        return frozenset({own_key})
    return frozenset(parse_key_text(text) for text in config.network.stewards)


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


def config_keys() -> list[tuple[str, str]]:
    """Every (section, key) pair the configuration knows."""
    keys: list[tuple[str, str]] = []
    for section, field in Config.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section):
            keys.extend((section, key) for key in field.annotation.model_fields)
    return keys


def load_config(data_dir: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``banscan.toml`` from ``data_dir`` (if present) and apply ``BANSCAN_*`` overrides."""
    environ = os.environ if environ is None else environ
    path = data_dir / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    origin = {
        f"{s}.{k}": str(path) for s, keys in raw.items() if isinstance(keys, dict) for k in keys
    }
    known = {env_name(s, k): (s, k) for s, k in config_keys()}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_KEYS:
            continue
        if name not in known:
            raise ConfigError(f"{name}: not a banscan setting (see docs/configuration.md)")
        section, key = known[name]
        raw.setdefault(section, {})[key] = _env_value(section, key, value)
        origin[f"{section}.{key}"] = name
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        source = origin.get(".".join(str(p) for p in error["loc"][:2]), str(path))
        raise ConfigError(f"{where} (from {source}): {error['msg']}") from exc


def _env_value(section: str, key: str, value: str) -> Any:
    section_model = Config.model_fields[section].annotation
    assert section_model is not None
    annotation = section_model.model_fields[key].annotation
    container = getattr(annotation, "__origin__", None)
    if container is dict or key in _TABLE_KEYS:
        raise ConfigError(
            f"{env_name(section, key)}: [{section}] {key} holds tables; set it in {CONFIG_FILE}"
        )
    if container is list:
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# Keys whose values are tables, which an environment variable cannot express.
_TABLE_KEYS = frozenset({"actions"})
