"""The paths of the node itself: health, this document, identity, metrics, peers and
the federation routes (docs/protocol.md, Federation)."""

from typing import Any

from node.api.openapi.parts import (
    BEARER,
    OPTIONAL_BEARER,
    UNAUTHORIZED,
    json_answer,
    problem,
    schema_ref,
)


def identity_paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Health of the node and its database",
                "responses": {
                    "200": json_answer("Healthy", schema_ref("Health")),
                    "503": json_answer("Failing", schema_ref("Health")),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": json_answer("OpenAPI 3.1 document", {"type": "object"})},
            }
        },
        "/api/v1/node": {
            "get": {
                "operationId": "getNode",
                "summary": "The node's key, network and software version",
                "responses": {"200": json_answer("Node identity", schema_ref("NodeIdentity"))},
            }
        },
    }


def operations_paths() -> dict[str, Any]:
    return {
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format)",
                "description": "Without a token, only for a direct connection from the "
                "node's own host (loopback, not relayed by a proxy).",
                "security": OPTIONAL_BEARER,
                "responses": {
                    "200": {
                        "description": "Metrics; docs/operators.md says what to watch",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": problem(
                        "From another host (or through the proxy) without a token, or "
                        "with a token this node does not know."
                    ),
                },
            }
        },
        "/api/v1/federation/peers": {
            "get": {
                "operationId": "listPeers",
                "summary": "Peers: last success, failures, backoff, and lag per feed",
                "security": BEARER,
                "responses": {
                    "200": json_answer("Peers", schema_ref("PeerList")),
                    "401": UNAUTHORIZED,
                },
            }
        },
    }


def federation_paths() -> dict[str, Any]:
    return {
        "/federation/v1/sync": _federation(
            "federationSync", "Compare vectors (step digest, then entries)", signed=True
        ),
        "/federation/v1/records": _federation(
            "federationRecords", "Pull ranges of feeds as a batch", signed=True
        ),
        "/federation/v1/push": _federation(
            "federationPush", "Push a batch; one result per record", signed=True
        ),
        "/federation/v1/public/sync": _federation(
            "federationPublicSync", "Compare vectors of the public audience", signed=False
        ),
        "/federation/v1/public/records": _federation(
            "federationPublicRecords", "Pull ranges of public feeds", signed=False
        ),
    }


def _federation(operation_id: str, summary: str, *, signed: bool) -> dict[str, Any]:
    """A federation route: msgpack in and out (docs/protocol.md, Federation)."""
    responses: dict[str, Any] = {
        "200": {
            "description": (
                "The answer, signed by the node (RFC 9421): msgpack, sent without a "
                "Content-Type (docs/protocol.md section 14)"
            ),
            "content": {"application/msgpack": {"schema": {"type": "string"}}},
        },
        "400": problem("The message is malformed; the detail names what is wrong."),
        "403": problem("The audience asked for may not be sent to this caller."),
        "413": problem("Over the batch limits."),
        "408": problem("The body did not arrive whole within federation.timeout_s."),
        "415": problem("A Content-Type other than application/msgpack (peers send none)."),
        "429": problem("The node is serving as many peers as it can; see Retry-After."),
    }
    if signed:
        responses["401"] = problem(
            "Unsigned, forged, stale, replayed, from the future or from another network."
        )
        responses["403"] = problem(
            "The signing key is unknown or not a member, or the audience asked for may not "
            "be sent to it."
        )
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "security": [{"httpSignature": []}] if signed else [{}],
            "requestBody": {
                "required": True,
                "content": {"application/msgpack": {"schema": {"type": "string"}}},
            },
            "responses": responses,
        }
    }
