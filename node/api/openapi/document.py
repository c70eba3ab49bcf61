"""The whole OpenAPI document, put together from its parts in a fixed order."""

from functools import cache
from typing import Any

from node.api.openapi.caching import add_read_answers
from node.api.openapi.campaign import campaign_paths
from node.api.openapi.campaignsite import campaign_site_paths
from node.api.openapi.desk import desk_paths, desk_schemas
from node.api.openapi.narrowing import narrow_checked_fields
from node.api.openapi.records import record_paths
from node.api.openapi.schemas import record_schemas
from node.api.openapi.service import federation_paths, identity_paths, operations_paths
from node.api.openapi.site import site_paths
from node.api.openapi.submission_schemas import submission_schemas
from node.api.openapi.submissions import submission_paths


@cache
def openapi_document(version: str) -> dict[str, Any]:
    schemas = {**record_schemas(), **submission_schemas(), **desk_schemas()}
    narrow_checked_fields(schemas)
    paths = {
        **identity_paths(),
        **record_paths(),
        **campaign_paths(),
        **operations_paths(),
        **federation_paths(),
        **submission_paths(),
        **desk_paths(),
        **site_paths(),
        **campaign_site_paths(),
    }
    add_read_answers(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "banscan node API",
            "version": version,
            "description": "Signed incident and deployment records of the Ban the Scan network.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "RFC 9421 HTTP Message Signature by a member node's key "
                    "(see docs/protocol.md, Federation)",
                },
            },
        },
        "paths": paths,
    }
