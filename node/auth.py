"""Bearer tokens for people and tools: who may read which audience, and who may write.

| role      | read public | read network, coordinators | publish, import |
|-----------|-------------|----------------------------|-----------------|
| (none)    | yes         | no                         | no              |
| analyst   | yes         | yes                        | no              |
| moderator | yes         | yes                        | no              |
| publisher | yes         | yes                        | yes             |
| admin     | yes         | yes                        | yes             |
"""

from aiohttp import web

from node.problems import Forbidden, Unauthorized
from node.state import STORE
from storage.tokens import Role, TokenInfo

ALL_AUDIENCES = ("public", "network", "coordinators")
PUBLIC_ONLY = ("public",)
WRITERS = frozenset({Role.ADMIN, Role.PUBLISHER})


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
