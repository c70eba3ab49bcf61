"""Bearer tokens for people and tools: who may read which audience, and who may write.

| role      | read public | read network, coordinators | publish, import |
|-----------|-------------|----------------------------|-----------------|
| (none)    | yes         | no                         | no              |
| analyst   | yes         | yes                        | no              |
| moderator | yes         | yes                        | no              |
| publisher | yes         | yes                        | yes, some kinds |
| admin     | yes         | yes                        | yes, some kinds |

What a writer may publish depends on the kind too (:func:`require_publishing_right`;
the role x kind table is in docs/api.md, "What each role may publish").
"""

import sqlite3
from collections.abc import Callable

from aiohttp import web

from node.problems import Forbidden, Unauthorized
from node.state import STORE
from storage.tokens import Role, TokenInfo, still_held

ALL_AUDIENCES = ("public", "network", "coordinators")
PUBLIC_ONLY = ("public",)
WRITERS = frozenset({Role.ADMIN, Role.PUBLISHER})
# On a steward's node these carry the steward's powers over the whole network.
RETRACTORS_OF_OTHERS = frozenset({Role.ADMIN})
COMMAND_LINE_KINDS = frozenset({"membership"})
# Run by a write's transaction on the writer's thread; raises to roll it back.
WriteCheck = Callable[[sqlite3.Connection], None]
NOT_KNOWN = "the bearer token is not known to this node"


async def token_info(request: web.Request, *, writing: bool = False) -> TokenInfo | None:
    """The caller's token, None when no token was given; an unknown token is refused.

    ``writing``: the token may be one remembered from an earlier request, so the
    write it allows must check it in its transaction (:func:`require_writer`)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    # Tokens are ASCII; anything else (even undecodable header bytes) is malformed.
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    tokens = request.app[STORE].tokens
    info = await (tokens.writer if writing else tokens.lookup)(token.strip())
    if info is None:
        raise Unauthorized(NOT_KNOWN)
    return info


async def require_role(
    request: web.Request, allowed: frozenset[Role], *, writing: bool = False
) -> TokenInfo:
    info = await token_info(request, writing=writing)
    if info is None:
        raise Unauthorized("this route needs a bearer token")
    if info.role not in allowed:
        needed = " or ".join(sorted(r.value for r in allowed))
        raise Forbidden(
            f"this route needs {needed}; the token given has the {info.role.value} role"
        )
    return info


async def require_writer(request: web.Request) -> tuple[TokenInfo, WriteCheck]:
    """A writer's token, and the check the write's transaction runs before it writes.

    The token is looked up once and then remembered, so a publisher does not wait
    behind anonymous reads for the reader connection; since another process may
    have revoked it meanwhile (``banscan token revoke``), the write checks it again
    in its own transaction, at no extra cost, and is refused with 401 if it is gone."""
    info = await require_role(request, WRITERS, writing=True)
    tokens = request.app[STORE].tokens

    def check(conn: sqlite3.Connection) -> None:
        if not still_held(conn, info):
            tokens.forget(info.digest)
            raise Unauthorized(NOT_KNOWN)

    return info, check


def readable_audiences(info: TokenInfo | None) -> tuple[str, ...]:
    return PUBLIC_ONLY if info is None else ALL_AUDIENCES


def require_publishing_right(info: TokenInfo, kind: object, *, retracts_unsigned: bool) -> None:
    """Refuse a record a writer's role may not have the node sign (docs/api.md).

    A ``membership`` record decides which keys the whole network accepts, so no
    token publishes one: ``banscan members`` does, on the node's own host
    (docs/threat-model.md). A retraction of a record the node did not sign
    withdraws another chapter's record everywhere when the node is a steward, so
    it needs ``admin``. ``kind`` is whatever JSON the request sent."""
    if isinstance(kind, str) and kind in COMMAND_LINE_KINDS:
        raise Forbidden(
            f"no token may publish a {kind} record; a steward publishes membership "
            "decisions with 'banscan members' on the node's own host"
        )
    if retracts_unsigned and info.role not in RETRACTORS_OF_OTHERS:
        raise Forbidden(
            "retracting a record this node did not sign needs the admin role; "
            f"the token given has the {info.role.value} role"
        )
