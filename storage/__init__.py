"""Persistence on SQLite (WAL) through aiosqlite.

One writer connection; every write batch is one ``BEGIN IMMEDIATE``
transaction; reads go through their own connection. Knows nothing of HTTP.

Its errors, :class:`StorageError` and :class:`SchemaVersionError`, belong to
the one error tree drawn in :mod:`protocol.errors`. Their ``detail`` may
carry the database's own text, so a client is told only ``public_detail``.
"""

from protocol.errors import BanscanError


class StorageError(BanscanError):
    status = 503
    code = "storage-error"
    public_detail = "the node's storage is not available"


class SchemaVersionError(StorageError):
    code = "schema-too-new"
