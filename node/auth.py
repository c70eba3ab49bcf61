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

from aiohttp import web

from node.problems import Forbidden, Unauthorized
from node.state import STORE
from storage.tokens import Role, TokenInfo

ALL_AUDIENCES = ("public", "network", "coordinators")
PUBLIC_ONLY = ("public",)
WRITERS = frozenset({Role.ADMIN, Role.PUBLISHER})
# On a steward's node these carry the steward's powers over the whole network.
RETRACTORS_OF_OTHERS = frozenset({Role.ADMIN})
COMMAND_LINE_KINDS = frozenset({"membership"})


async def token_info(request: web.Request) -> TokenInfo | None:
    """The caller's token, None when no token was given; an unknown token is refused."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    # Tokens are ASCII; anything else (even undecodable header bytes) is malformed.
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    info = await request.app[STORE].tokens.lookup(token.strip())
    if info is None:
        raise Unauthorized("the bearer token is not known to this node")
    return info


async def require_role(request: web.Request, allowed: frozenset[Role]) -> TokenInfo:
    info = await token_info(request)
    if info is None:
        raise Unauthorized("this route needs a bearer token")
    if info.role not in allowed:
        needed = " or ".join(sorted(r.value for r in allowed))
        raise Forbidden(
            f"this route needs {needed}; the token given has the {info.role.value} role"
        )
    return info


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
