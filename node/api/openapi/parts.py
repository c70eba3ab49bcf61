"""The building blocks of the OpenAPI document, shared by all its parts."""

from typing import Any

REF = "#/components/schemas/{model}"
B64 = {"type": "string", "contentEncoding": "base64url"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {"bearer": []}]


def schema_ref(name: str) -> dict[str, str]:
    """A ``$ref`` to the schema ``name`` in ``components/schemas``."""
    return {"$ref": REF.format(model=name)}


def problem(description: str) -> dict[str, Any]:
    """An answer with a problem+json body."""
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": schema_ref("Problem")}},
    }


def json_answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An answer with a JSON body of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def closed_object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """An object schema with no properties beyond ``properties``."""
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def query_parameter(name: str, description: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter."""
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
    if description is not None:
        parameter["description"] = description
    parameter["schema"] = schema
    return parameter


BAD_REQUEST = problem("A parameter or the body is wrong; the problem names it.")
UNAUTHORIZED = problem("No token, or a token this node does not know.")
FORBIDDEN = problem("The token's role may not do this.")
