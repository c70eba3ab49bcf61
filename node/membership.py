"""Steward decisions about members: publishing ``membership`` records, listing the state.

A steward's node admits, suspends and revokes keys by publishing
``membership`` records signed with its node key, in the ``public`` audience,
so that every node, even a mirror that is no member, can judge records by
them. What a decision does to records is the store's business
(``storage.members``, ``storage.records``).
"""

from collections.abc import Callable
from typing import Any

from node.publishing import publish
from protocol.keys import NodeKey, key_text
from protocol.limits import Limits
from protocol.records import VerifiedRecord
from protocol.trust import Member, Trust
from storage.store import Store


class MembershipRefused(Exception):
    """This node may not make the decision asked for; the message says why."""


async def decide(
    store: Store,
    key: NodeKey,
    subject: bytes,
    action: str,
    *,
    network_id: str,
    limits: Limits,
    role: str | None = None,
    name: str | None = None,
    city: str | None = None,
    country: str | None = None,
    compromised_since_ms: int | None = None,
    clock: Callable[[], int] | None = None,
) -> VerifiedRecord:
    """Publish this steward node's decision about ``subject``.

    Admit needs ``role`` and ``name``; suspend and revoke keep the member's role,
    name and place from its current state, and need a member known to this node."""
    trust = store.trust
    if key.public_key not in trust.stewards:
        raise MembershipRefused(
            f"this node ({key.text}) is not a steward of its network; only a steward's "
            "membership records count. Stewards are listed in [network] stewards"
        )
    body: dict[str, Any] = {"subject": key_text(subject), "action": action}
    if action == "admit":
        body.update(role=role, name=name, city=city, country=country)
    else:
        current = trust.member(subject)
        if current is None:
            reason = "a steward" if subject in trust.stewards else "not a member this node knows"
            raise MembershipRefused(f"{key_text(subject)} is {reason}; nothing to {action}")
        body.update(
            role=current.role, name=current.name, city=current.city, country=current.country
        )
        if action == "revoke":
            body["compromised_since_ms"] = compromised_since_ms
    return await publish(
        store.records,
        key,
        network_id=network_id,
        limits=limits,
        kind="membership",
        audience="public",
        body={field: value for field, value in body.items() if value is not None},
        clock=clock or store.clock,
    )


def state_of(member: Member) -> str:
    return {"admit": "admitted", "suspend": "suspended", "revoke": "revoked"}[member.action]


def member_views(trust: Trust) -> list[dict[str, Any]]:
    """Stewards first, then every key a steward decided on."""
    stewards = [
        {
            "key": key_text(steward),
            "role": "steward",
            "state": "steward",
            "name": None,
            "city": None,
            "country": None,
            "since_ms": None,
            "compromised_since_ms": None,
            "record_id": None,
        }
        for steward in sorted(trust.stewards)
    ]
    members = [
        {
            "key": key_text(member.subject),
            "role": member.role,
            "state": state_of(member),
            "name": member.name,
            "city": member.city,
            "country": member.country,
            "since_ms": member.decided_ms,
            "compromised_since_ms": member.compromised_since_ms,
            "record_id": member.record_id.hex(),
        }
        for member in trust.members()
        if member.subject not in trust.stewards
    ]
    return stewards + members
