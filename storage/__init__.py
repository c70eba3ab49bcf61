"""Persistence on SQLite (WAL) through aiosqlite.

One writer connection; every write batch is one ``BEGIN IMMEDIATE``
transaction; reads go through their own connection. Knows nothing of HTTP.

Errors::

    StorageError                    503 storage-error
    └── SchemaVersionError          503 schema-too-new   database written by a newer banscan
"""


class StorageError(Exception):
    status = 503
    code = "storage-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SchemaVersionError(StorageError):
    code = "schema-too-new"
