"""Fuzzing a real node on 127.0.0.1: no input may cause a 5xx, every answer matches the document.

Schemathesis generates requests from the served OpenAPI document, valid and
invalid, for every operation. For publishing it uses a copy of the document
whose ``NewRecord`` ties each kind to its body schema and whose free-text
fields that the node checks beyond the schema (country codes, geohashes,
dates, URLs) are narrowed, so that many requests reach signing and storage
instead of stopping at validation. A second, hypothesis-driven fuzzer feeds
the msgpack import route signed batches with one part damaged.
"""

import asyncio
import copy
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS31Validator
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from node import __version__
from node.api.openapi import openapi_document
from node.app import create_app
from node.datadir import DataDir
from node.serve import connections
from node.state import STORE
from protocol.countries import COUNTRY_CODES
from protocol.envelope import AUDIENCES
from protocol.keys import b64url_decode
from protocol.kinds import KIND_MODELS
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, verify_record
from protocol.sealing import ModeratorKey
from storage.tokens import Role
from tests.conftest import node_store
from tests.factories import NETWORK, admit, incident_body, seeded_key, signed

# The import route takes raw msgpack bytes; send generated binary strings as they are.
schemathesis.serializer.alias("application/msgpack", "application/octet-stream")

PROBLEM = "application/problem+json"


FUZZ_KEYS = ("fuzz a", "fuzz b")


class LiveNode:
    """A node app served on 127.0.0.1, port 0, in its own thread and event loop, through
    the connections ``banscan run`` serves (node.serve): what aiohttp's parser refuses,
    such as a request line past 8,190 bytes, is answered as the node answers it."""

    def __init__(self, data_dir: DataDir) -> None:
        self._config = data_dir.load_config()
        self._app = create_app(self._config, data_dir.load_key(), data_dir.database)
        self.host = "127.0.0.1"
        self.port = 0
        self.tokens: dict[Role, str] = {}
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-node", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30) or self._failure is not None:
            raise RuntimeError("the node did not start") from self._failure

    def stop(self) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        server: asyncio.Server | None = None
        try:
            assert runner.server is not None
            server = await self._loop.create_server(
                connections(self._app, runner.server, self._config), self.host, 0
            )
            self.port = server.sockets[0].getsockname()[1]
            store = self._app[STORE]
            self.tokens = {role: await store.tokens.create(role, "fuzz") for role in Role}
            # A node that takes reports, so fuzzed ones reach sealing and storage.
            moderator = ModeratorKey.generate().public
            await store.submissions.add_key(moderator.key_id, moderator.text, "fuzz", actor="fuzz")
            self._ready.set()
            await self._stop.wait()
        finally:
            if server is not None:
                server.close()
            await runner.cleanup()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def record_ids(self) -> list[str]:
        """Every record id the node holds, as an admin lists them."""
        ids: list[str] = []
        cursor = ""
        while True:
            status, _, data = self.request(
                "GET",
                f"/api/v1/records?limit=500{cursor}",
                headers={"Authorization": f"Bearer {self.tokens[Role.ADMIN]}"},
            )
            assert status == 200
            page = json.loads(data)
            ids.extend(r["id"] for r in page["records"])
            if page["next_cursor"] is None:
                return ids
            cursor = f"&cursor={page['next_cursor']}"


@pytest.fixture(scope="module")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    data_dir = DataDir(tmp_path_factory.mktemp("fuzz") / "node")
    data_dir.init(NETWORK, [])
    asyncio.run(_admit_fuzz_keys(data_dir))
    node = LiveNode(data_dir)
    node.start()
    try:
        yield node
    finally:
        node.stop()


async def _admit_fuzz_keys(data_dir: DataDir) -> None:
    """The node is its own steward: it admits the keys the fuzzer signs with."""
    async with node_store(data_dir.path) as store:
        keys = (seeded_key(label).public_key for label in FUZZ_KEYS)
        await admit(store, *keys, steward=data_dir.load_key())


@pytest.fixture(scope="module")
def served_document(live_node: LiveNode) -> dict[str, Any]:
    status, _, data = live_node.request("GET", "/api/v1/openapi.json")
    assert status == 200
    document: dict[str, Any] = json.loads(data)
    return document


_NARROWED: dict[str, dict[str, Any]] = {
    "country": {"enum": sorted(COUNTRY_CODES)},
    "area": {"type": "string", "pattern": "^[0-9b-hjkmnp-z]{1,6}$"},
    "date": {
        "type": "string",
        "pattern": "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$",
    },
    "url": {"type": "string", "pattern": "^https://[a-z]{1,12}\\.org/[a-z0-9]{0,12}$"},
    "archived_url": {"type": "string", "pattern": "^https://[a-z]{1,12}\\.org/[a-z0-9]{0,12}$"},
    "urls": {
        "type": "array",
        "minItems": 1,
        "maxItems": 3,
        "items": {"type": "string", "pattern": "^https://[a-z]{1,12}\\.org$"},
    },
}


def fuzzing_document(served: dict[str, Any]) -> dict[str, Any]:
    """The served document with NewRecord tied to the kinds and checked fields narrowed."""
    document = copy.deepcopy(served)
    schemas = document["components"]["schemas"]
    for name in (model.__name__ for model in KIND_MODELS.values()):
        _narrow(schemas[name])
    for name in ("PartialDate", "Source"):
        _narrow(schemas[name])
    schemas["NewRecord"] = {
        "oneOf": [
            {
                "type": "object",
                "required": ["kind", "audience", "body"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"const": kind},
                    "audience": {"enum": list(AUDIENCES)},
                    "body": {"$ref": f"#/components/schemas/{model.__name__}"},
                },
            }
            for kind, model in KIND_MODELS.items()
        ]
    }
    return document


def _narrow(schema: dict[str, Any]) -> None:
    for name, narrowed in _NARROWED.items():
        if name in schema.get("properties", {}):
            schema["properties"][name] = narrowed


def fuzz_runs(document: dict[str, Any]) -> list[tuple[str, GenerationMode]]:
    """Each operation of ``document`` with each way it is fuzzed: negative cases only
    where there is an input to get wrong."""
    runs: list[tuple[str, GenerationMode]] = []
    for result in schemathesis.openapi.from_dict(document).get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        takes_input = any(
            len(part) for part in (operation.query, operation.path_parameters, operation.body)
        )
        modes = schemathesis.GenerationMode if takes_input else [GenerationMode.POSITIVE]
        runs.extend((operation.label, mode) for mode in modes)
    return runs


def documented_operations(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }


# One test an operation, so that pytest-xdist's workers share them (they took 100 s as
# one test), from the document this checkout builds; the served one must give the same
# (test_every_operation_is_fuzzed).
RUNS = fuzz_runs(openapi_document(__version__))
OPERATIONS = sorted({label for label, _ in RUNS})


@pytest.fixture(scope="module")
def fuzzed_operations(served_document: dict[str, Any]) -> dict[str, Any]:
    """The operations of the served document made fuzzable, by label."""
    schema = schemathesis.openapi.from_dict(fuzzing_document(served_document))
    operations = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations[result.ok().label] = result.ok()
    return operations


def test_every_operation_is_fuzzed(served_document: dict[str, Any]) -> None:
    document = fuzzing_document(served_document)
    assert fuzz_runs(document) == RUNS
    assert {label for label, _ in RUNS} == documented_operations(served_document)


def examples_for(label: str) -> int:
    """Requests a mode of an operation gets. The reads share one filter parser
    (node/params.py) and most of their parameters, so each of the 50 gets fewer
    than the writes, whose bodies differ: generating a read's many parameters was most of
    the module's time (112 s alone, the suite's largest)."""
    return 25 if not label.startswith("GET ") else 12


@pytest.mark.parametrize("label", OPERATIONS)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_node: LiveNode, fuzzed_operations: dict[str, Any], label: str
) -> None:
    """Each operation is fuzzed on its own, so every one is reached however many there
    are, in each of its modes (:data:`RUNS`)."""
    operation = fuzzed_operations[label]
    headers = {"Authorization": f"Bearer {live_node.tokens[Role.PUBLISHER]}"}
    statuses: dict[str, set[int]] = {}
    before = live_node.record_ids()
    examples = examples_for(label)
    # The function hypothesis runs keeps its source (and so, derandomized, the requests it
    # generates) as when one test fuzzed every operation in one loop.
    for mode in (mode for run, mode in RUNS if run == label):

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=live_node.url, headers=headers)
            statuses.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(
                response,
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ],
            )

        fuzz()

    # The operation answered, and publishing got past validation.
    assert set(statuses) == {label}
    after = live_node.record_ids()
    if label == "POST /api/v1/records":
        assert 201 in statuses[label]
        assert len(after) > len(before)
    if after != before:
        assert_every_record_verifies(live_node)


_MSGPACK_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def damaged_batches(draw: st.DrawFn) -> bytes:
    """A signed batch with one part damaged, an arbitrary body, or arbitrary msgpack."""
    shape = draw(st.sampled_from(["damaged", "arbitrary body", "arbitrary msgpack", "bytes"]))
    if shape == "bytes":
        return draw(st.binary(max_size=300))
    if shape == "arbitrary msgpack":
        value = draw(st.lists(_MSGPACK_VALUES, max_size=4) | _MSGPACK_VALUES)
        packed: bytes = msgpack.packb(value, use_bin_type=True)
        return packed
    key = seeded_key(draw(st.sampled_from(FUZZ_KEYS)))
    start = draw(st.integers(1, 3))
    count = draw(st.integers(1, 4))
    audience = draw(st.sampled_from(AUDIENCES))
    if shape == "arbitrary body":
        body = draw(st.dictionaries(st.text(max_size=12), _MSGPACK_VALUES, max_size=6))
        base = incident_body() if draw(st.booleans()) else {}
        raw = msgpack.packb({**base, **body}, use_bin_type=True)
        records = [signed(key, s, body=raw, audience=audience) for s in range(start, start + count)]
        return msgpack.packb([r.to_wire() for r in records], use_bin_type=True)
    records = [signed(key, s, audience=audience) for s in range(start, start + count)]
    wire: list[list[bytes | None]] = [r.to_wire() for r in records]
    victim = wire[draw(st.integers(0, count - 1))]
    part = draw(st.integers(0, 2))
    original = victim[part] or b""
    edit = draw(st.sampled_from(["flip", "truncate", "extend", "replace", "drop"]))
    if edit == "flip" and original:
        at = draw(st.integers(0, len(original) - 1))
        bit = 1 << draw(st.integers(0, 7))
        victim[part] = original[:at] + bytes([original[at] ^ bit]) + original[at + 1 :]
    elif edit == "truncate":
        victim[part] = original[: draw(st.integers(0, max(len(original) - 1, 0)))]
    elif edit == "extend":
        victim[part] = original + draw(st.binary(min_size=1, max_size=16))
    elif edit == "replace":
        victim[part] = draw(st.binary(max_size=80))
    else:
        victim[part] = None
    return msgpack.packb(wire, use_bin_type=True)


def test_import_fuzz_never_fails_the_server_and_stores_only_whole_batches(
    live_node: LiveNode, served_document: dict[str, Any]
) -> None:
    summary_schema = OAS31Validator(
        {
            "$ref": "#/components/schemas/ImportSummary",
            "components": served_document["components"],
        }
    )
    problem_schema = OAS31Validator(
        {"$ref": "#/components/schemas/Problem", "components": served_document["components"]}
    )
    headers = {
        "Authorization": f"Bearer {live_node.tokens[Role.PUBLISHER]}",
        "Content-Type": "application/msgpack",
    }
    statuses: set[int] = set()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=damaged_batches())
    def fuzz(batch: bytes) -> None:
        before = live_node.record_ids()
        status, content_type, data = live_node.request(
            "POST", "/api/v1/records/import", batch, headers
        )
        statuses.add(status)
        assert status < 500, data[:500]
        answer = json.loads(data)
        after = live_node.record_ids()
        if status == 200:
            assert content_type.startswith("application/json")
            assert summary_schema.is_valid(answer), answer
            assert after[: len(before)] == before
            assert len(after) - len(before) == answer["accepted"]
        else:
            assert 400 <= status < 500
            assert content_type.startswith(PROBLEM)
            assert problem_schema.is_valid(answer), answer
            assert answer["type"].startswith("urn:banscan:problem:")
            assert answer["detail"]
            assert after == before

    fuzz()

    assert 200 in statuses
    assert len(statuses) > 3
    assert_every_record_verifies(live_node)


def assert_every_record_verifies(node: LiveNode) -> None:
    """Whatever the fuzzer stored still verifies from the bytes the node serves."""
    ids = node.record_ids()
    for record_id in ids:
        status, _, data = node.request(
            "GET",
            f"/api/v1/records/{record_id}",
            headers={"Authorization": f"Bearer {node.tokens[Role.ANALYST]}"},
        )
        assert status == 200
        signed_parts = json.loads(data)["signed"]
        body = signed_parts["body"]
        record = SignedRecord(
            b64url_decode(signed_parts["envelope"]),
            b64url_decode(signed_parts["signature"]),
            None if body is None else b64url_decode(body),
        )
        verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
        assert verified.id.hex() == record_id
