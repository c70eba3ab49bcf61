"""The OpenAPI 3.1 document for ``/api/v1`` and ``/federation/v1``, served at
``/api/v1/openapi.json``.

Body schemas come from the protocol's pydantic models, so the document and
the validation the node performs cannot drift apart. The modules, and the one
way their imports point (each imports only those above it):

- :mod:`.parts`: the building blocks every part uses (``$ref``, problem and
  JSON answers, security requirements);
- :mod:`.schemas` and :mod:`.submission_schemas`: ``components/schemas``;
- :mod:`.service`, :mod:`.records` and :mod:`.submissions`: the paths;
- :mod:`.document`: :func:`openapi_document`, which puts them together.
"""

from node.api.openapi.document import openapi_document

__all__ = ["openapi_document"]
