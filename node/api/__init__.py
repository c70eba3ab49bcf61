"""The HTTP API: JSON routes under ``/api/v1/``, the federation routes under
``/federation/v1/``, their query parameters and the OpenAPI document.

May import the process modules at ``node``'s top, :mod:`node.moderation` and
:mod:`node.exports`; never :mod:`node.web` or :mod:`node.cli`.
"""
