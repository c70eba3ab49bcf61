"""Record kinds (v1) and the schema each body must satisfy.

A body is a msgpack map; its kind's model is strict, frozen and closed. Bodies
of kinds this version does not know are stored and relayed as opaque bytes and
never interpreted, so nodes on different versions still replicate everything.
"""

from typing import Annotated, Any, Final, Literal

import msgpack
from pydantic import Field, ValidationError, model_validator

from protocol.campaign import CAMPAIGN_MODELS
from protocol.envelope import MAX_UINT63
from protocol.errors import BodySchemaError, MalformedError
from protocol.fields import Agency as Agency
from protocol.fields import (
    CountryCode,
    Geohash,
    HttpUrl,
    KeyText,
    LongText,
    PartialDate,
    RecordIdHex,
    Sources,
    StrictModel,
    Tags,
    Text,
)
from protocol.fields import TechnologyType as TechnologyType
from protocol.validation import describe_validation_error

IncidentCategory = Literal[
    "misidentification",
    "wrongful_arrest",
    "protest_surveillance",
    "home_visit_or_raid",
    "harassment",
    "stop_and_search",
    "immigration_enforcement",
    "school_or_workplace",
    "data_sharing",
    "other",
]
_EXACT_POINT_KEYS: Final = frozenset(
    {"lat", "lon", "lng", "lat_e7", "lon_e7", "latitude", "longitude", "point", "coordinates"}
)


class Technology(StrictModel):
    type: TechnologyType
    detail: Text | None = None


class Verification(StrictModel):
    status: Literal["unverified", "corroborated", "verified"]
    confirmations: Annotated[int, Field(ge=0, le=10_000)] = 0


class Incident(StrictModel):
    """A rights violation involving facial recognition. Never carries an exact point."""

    occurred_on: PartialDate
    country: CountryCode
    region: Text | None = None
    city: Text | None = None
    area: Geohash | None = None
    category: IncidentCategory
    technology: Technology
    agency: Agency | None = None
    summary: LongText
    sources: Sources = Field(default_factory=list)
    verification: Verification = Verification(status="unverified")
    supersedes: RecordIdHex | None = None
    tags: Tags = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_exact_point(cls, data: Any) -> Any:
        if isinstance(data, dict):
            exact = sorted(_EXACT_POINT_KEYS.intersection(data))
            if exact:
                raise ValueError(
                    f"an incident must not carry an exact point ({', '.join(exact)}); "
                    "give its snapped area cell as a geohash of at most 6 characters"
                )
        return data


class FrtCapability(StrictModel):
    status: Literal["confirmed", "suspected", "unknown"]
    basis: Annotated[
        list[Literal["procurement_record", "records_request", "vendor_document", "visual"]],
        Field(max_length=4),
    ] = Field(default_factory=list)


OsmKey = Annotated[str, Field(pattern=r"^[a-z_]+(:[a-z_]+)*$", max_length=64)]
OsmValue = Annotated[str, Field(min_length=1, max_length=255)]


class Deployment(StrictModel):
    """Where the technology or its cameras are deployed. Cameras are public: exact points."""

    lat_e7: Annotated[int, Field(ge=-900_000_000, le=900_000_000)]
    lon_e7: Annotated[int, Field(ge=-1_800_000_000, le=1_800_000_000)]
    country: CountryCode
    city: Text | None = None
    osm: Annotated[dict[OsmKey, OsmValue], Field(max_length=32)] = Field(default_factory=dict)
    frt_capability: FrtCapability = FrtCapability(status="unknown")
    agency: Agency | None = None
    observed_on: PartialDate | None = None
    observers: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    status: Literal["reported", "corroborated", "confirmed", "disputed", "removed"] = "reported"
    sources: Sources = Field(default_factory=list)
    supersedes: RecordIdHex | None = None


class Retraction(StrictModel):
    target: RecordIdHex
    reason: Literal["duplicate", "error", "safety", "consent_withdrawn", "legal"]
    note: LongText | None = None


class Membership(StrictModel):
    """Stewards only: admits, suspends or revokes a member key."""

    subject: KeyText
    action: Literal["admit", "suspend", "revoke"]
    role: Literal["chapter", "coordinator"]
    name: Text
    city: Text | None = None
    country: CountryCode | None = None
    # Bounded like created_ms: a larger value cannot be stored (SQLite's INTEGER).
    compromised_since_ms: Annotated[int, Field(ge=0, le=MAX_UINT63)] | None = None

    @model_validator(mode="after")
    def _revoke_needs_time(self) -> "Membership":
        if (self.action == "revoke") != (self.compromised_since_ms is not None):
            raise ValueError("compromised_since_ms is required for revoke and only for revoke")
        return self


class NodeInfo(StrictModel):
    """A member describing itself; peers are discovered from these."""

    urls: Annotated[list[HttpUrl], Field(min_length=1, max_length=8)]
    name: Text
    city: Text | None = None
    country: CountryCode | None = None
    software: Text | None = None


KIND_MODELS: Final[dict[str, type[StrictModel]]] = {
    "incident": Incident,
    "deployment": Deployment,
    "retraction": Retraction,
    "membership": Membership,
    "node": NodeInfo,
    **CAMPAIGN_MODELS,
}
KNOWN_KINDS: Final = tuple(KIND_MODELS)


def is_known_kind(kind: str) -> bool:
    return kind in KIND_MODELS


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    # A repeated key would let two readers see different values under one signature.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateKeyError
    return value


def decode_body_map(body: bytes) -> dict[str, Any]:
    """The msgpack map a body holds (no schema applied). No map in it may repeat a key."""
    try:
        value = msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_ext_len=0,
            object_pairs_hook=_unique_keys,
        )
    except _DuplicateKeyError as exc:
        raise MalformedError("body has a map with a repeated key") from exc
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise MalformedError("body is not valid msgpack") from exc
    if not isinstance(value, dict):
        raise MalformedError("body must be a msgpack map")
    return value


def validate_body(kind: str, value: Any) -> StrictModel:
    """Validate a decoded body against its kind's schema."""
    model = KIND_MODELS.get(kind)
    if model is None:
        raise BodySchemaError(f"kind {kind!r} has no schema in this version")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise BodySchemaError(f"{kind} body is invalid: {describe_validation_error(exc)}") from exc


def decode_body(kind: str, body: bytes) -> StrictModel:
    """Decode and validate the body of a known kind."""
    return validate_body(kind, decode_body_map(body))


def encode_body(model: StrictModel) -> bytes:
    """The msgpack bytes a node signs for a body it publishes (fields in schema order)."""
    return msgpack.packb(model.model_dump(mode="python", exclude_none=True), use_bin_type=True)
