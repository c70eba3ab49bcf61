"""The one error tree: its shape, its drawing, and how the middleware answers it.

Every error a client can be answered with derives from
:class:`protocol.errors.BanscanError` and carries a status and a stable code;
the tree drawn in ``protocol/errors.py``'s docstring is the tree the code
defines; :func:`node.problems.problem_middleware` answers each error as
``application/problem+json`` with its own status; and bad input to a real
node's routes is answered in our own words, never in a library's.
"""

import json
import re

import msgpack
import pytest
from aiohttp import ClientResponse, web

import protocol.errors
from federation.httpsig import AuthError
from federation.sync import PeerError
from node.moderation.desk import ClaimHeld
from node.moderation.submissions import SubmissionError
from node.problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_PREFIX,
    ApiError,
    BadParameter,
    TooManyRequests,
    problem_middleware,
)
from protocol.errors import BanscanError, ProtocolError
from storage import StorageError
from storage.desk import Claim
from storage.tokens import Role
from tests.conftest import ClientFactory, NodeClient, bearer
from tests.factories import incident_body
from tests.test_docs_errors import import_all, subclasses

BRANCHES = (ProtocolError, StorageError, AuthError, PeerError, ApiError)
CODE = re.compile(r"[a-z]+(?:-[a-z]+)*")


def tree() -> list[type[BanscanError]]:
    import_all()
    found = {cls for cls in subclasses(BanscanError) if issubclass(cls, BanscanError)}
    return [BanscanError, *sorted(found, key=lambda cls: cls.__qualname__)]


ERRORS = tree()


def name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# The tree's shape.


def test_every_package_error_derives_from_the_one_base() -> None:
    for branch in BRANCHES:
        assert branch.__bases__ == (BanscanError,), f"{name(branch)} is not a direct child"
    assert SubmissionError.__bases__ == (ApiError,)


@pytest.mark.parametrize("cls", ERRORS, ids=name)
def test_every_error_has_a_status_and_a_stable_code(cls: type[BanscanError]) -> None:
    assert isinstance(cls.status, int)
    assert 400 <= cls.status <= 599
    assert isinstance(cls.code, str)
    assert CODE.fullmatch(cls.code), f"{name(cls)}: {cls.code!r} is not a slug"
    assert cls.public_detail is None or cls.public_detail.strip()


def test_no_error_class_of_the_packages_with_a_code_stays_outside_the_tree() -> None:
    outside = [
        name(cls)
        for cls in subclasses(Exception)
        if cls.__module__.split(".")[0] in ("protocol", "storage", "federation", "node")
        and isinstance(getattr(cls, "code", None), str)
        and not issubclass(cls, BanscanError)
    ]
    assert outside == []


# The drawing in protocol/errors.py.

_LINE = re.compile(
    r"^    (?P<indent>[│├└─ ]*)(?P<name>[\w.]+)\s+(?P<status>\d{3}) (?P<code>[a-z-]+)"
)


def drawn() -> dict[str, tuple[int, int, str, str | None]]:
    """{class name: (depth, status, code, parent's name)} as the docstring draws them."""
    found: dict[str, tuple[int, int, str, str | None]] = {}
    parents: list[str] = []
    for line in (protocol.errors.__doc__ or "").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4
        short = match["name"].rsplit(".", 1)[-1]
        del parents[depth:]
        found[short] = (
            depth,
            int(match["status"]),
            match["code"],
            parents[-1] if parents else None,
        )
        parents.append(short)
    return found


def test_the_drawing_holds_every_class_with_its_status_code_and_parent() -> None:
    drawing = drawn()
    names = [cls.__name__ for cls in ERRORS]
    assert len(names) == len(set(names)), "two error classes share a name; the drawing is unclear"
    assert set(drawing) == set(names)
    for cls in ERRORS:
        _, status, code, parent = drawing[cls.__name__]
        assert (status, code) == (cls.status, cls.code), f"{name(cls)} is drawn wrongly"
        expected = None if cls is BanscanError else cls.__bases__[0].__name__
        assert parent == expected, f"{name(cls)} is drawn under {parent}, not {expected}"


# The middleware answers each error as a problem.


def instance(cls: type[BanscanError]) -> BanscanError:
    if issubclass(cls, BadParameter):
        return cls("limit", "must be a whole number")
    if issubclass(cls, TooManyRequests):
        return cls("slow down", 7)
    if issubclass(cls, ClaimHeld):
        return cls("sub_aaaaaaaaaaaaaaaa", Claim("token:alice", 1_000, 2_000))
    return cls("what was wrong")


async def answer_to(aiohttp_client: ClientFactory, error: BaseException) -> ClientResponse:
    async def fail(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/fail", fail)
    client = await aiohttp_client(app)
    return await client.get("/fail")


@pytest.mark.parametrize("cls", ERRORS, ids=name)
async def test_the_middleware_answers_each_error_as_problem_json(
    aiohttp_client: ClientFactory, cls: type[BanscanError]
) -> None:
    error = instance(cls)
    response = await answer_to(aiohttp_client, error)
    assert response.status == cls.status
    assert response.content_type == PROBLEM_CONTENT_TYPE
    problem = json.loads(await response.text())
    assert problem["type"] == PROBLEM_TYPE_PREFIX + cls.code
    assert problem["status"] == cls.status
    assert problem["detail"] == (cls.public_detail or error.detail)


async def test_a_private_detail_stays_in_the_log(aiohttp_client: ClientFactory) -> None:
    error = StorageError("sqlite3.OperationalError: database is locked")
    problem = json.loads(await (await answer_to(aiohttp_client, error)).text())
    assert problem["detail"] == StorageError.public_detail
    assert "sqlite" not in json.dumps(problem)


async def test_too_many_requests_says_when_to_come_back(aiohttp_client: ClientFactory) -> None:
    quiet = await answer_to(aiohttp_client, TooManyRequests("busy", 2))
    told = await answer_to(aiohttp_client, TooManyRequests("busy", 60, in_body=True))
    assert (quiet.headers["Retry-After"], told.headers["Retry-After"]) == ("2", "60")
    assert "retry_after_s" not in json.loads(await quiet.text())
    assert json.loads(await told.text())["retry_after_s"] == 60


async def test_an_unexpected_exception_is_a_bare_500(aiohttp_client: ClientFactory) -> None:
    response = await answer_to(aiohttp_client, KeyError("a secret column name"))
    problem = json.loads(await response.text())
    assert (response.status, problem["type"]) == (500, PROBLEM_TYPE_PREFIX + "internal-error")
    assert "secret" not in problem["detail"]


# Bad input to a real node is answered in our own words.

# What libraries say, by their names, their exception classes or their phrasing.
LIBRARY_WORDING = (
    "Traceback",
    "ExtraData",
    "UnpackValueError",
    "FormatError",
    "StackError",
    "unpack(b)",
    "pydantic",
    "ValidationError",
    "Input should",
    "Value error",
    "Extra inputs",
    "String should",
    "List should",
    "For further information",
    "sqlite",
    "cryptography",
    "InvalidSignature",
    "http_message_signatures",
    "HTTPMessageSignatures",
    "JSONDecodeError",
    "Expecting value",
    "(char ",
    "aiohttp",
)

MSGPACK = {"Content-Type": "application/msgpack"}
JSON = {"Content-Type": "application/json"}
GARBAGE = b"\xc1\xc1 not msgpack \x00\xff"
BAD_SIGNATURE = {
    **MSGPACK,
    "Signature-Input": 'banscan=("@method");keyid="ed25519:x";alg="ed25519"',
    "Signature": "banscan=:AAAA:",
}

BAD_INPUTS: dict[str, tuple[str, str, bytes, dict[str, str]]] = {
    "publish: not JSON": ("POST", "/api/v1/records", b'{"kind": inc', JSON),
    "publish: not UTF-8": ("POST", "/api/v1/records", b'{"kind": "\xff"}', JSON),
    "publish: a body of the wrong shape": (
        "POST",
        "/api/v1/records",
        json.dumps(
            {
                "kind": "incident",
                "audience": "public",
                "body": incident_body(country="XX", city=7, sources=[{}], extra=1),
            }
        ).encode(),
        JSON,
    ),
    "import: not msgpack": ("POST", "/api/v1/records/import", GARBAGE, MSGPACK),
    "import: msgpack of the wrong shape": (
        "POST",
        "/api/v1/records/import",
        msgpack.packb([{"envelope": 1}, [b"x", b"y"]]),
        MSGPACK,
    ),
    "import: trailing bytes": (
        "POST",
        "/api/v1/records/import",
        msgpack.packb([]) + b"\x00",
        MSGPACK,
    ),
    "submission: not JSON": ("POST", "/api/v1/submissions", b"{", JSON),
    "submission: wrong fields": (
        "POST",
        "/api/v1/submissions",
        json.dumps({"kind": "incident", "occurred_on": "yesterday", "extra": [1]}).encode(),
        JSON,
    ),
    "query: bad parameters": ("GET", "/api/v1/records?since=soon&limit=-1", b"", {}),
    "record id: not hex": ("GET", "/api/v1/records/not-an-id", b"", {}),
    "public sync: not msgpack": ("POST", "/federation/v1/public/sync", GARBAGE, MSGPACK),
    "public records: wrong shape": (
        "POST",
        "/federation/v1/public/records",
        msgpack.packb({"want": "everything"}),
        MSGPACK,
    ),
    "sync: unsigned": ("POST", "/federation/v1/sync", GARBAGE, MSGPACK),
    "sync: a signature that does not parse": ("POST", "/federation/v1/sync", b"", BAD_SIGNATURE),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_bad_input_is_answered_in_our_own_words(
    client: NodeClient, tokens: dict[Role, str], case: str
) -> None:
    method, path, data, headers = BAD_INPUTS[case]
    response = await client.request(
        method, path, data=data, headers={**headers, **bearer(tokens[Role.PUBLISHER])}
    )
    assert 400 <= response.status < 500, f"{case}: {response.status}"
    assert response.content_type == PROBLEM_CONTENT_TYPE
    text = await response.text()
    problem = json.loads(text)
    assert problem["detail"].strip()
    for words in LIBRARY_WORDING:
        assert words.lower() not in text.lower(), f"{case}: {words!r} in {problem['detail']!r}"


async def test_aiohttps_own_wording_of_an_http_error_is_not_passed_on(
    aiohttp_client: ClientFactory,
) -> None:
    error = web.HTTPBadRequest(reason="Invalid header value char", text="aiohttp says so")
    response = await answer_to(aiohttp_client, error)
    problem = json.loads(await response.text())
    assert (response.status, problem["type"]) == (400, PROBLEM_TYPE_PREFIX + "bad-request")
    assert problem["detail"] == "Bad Request"
