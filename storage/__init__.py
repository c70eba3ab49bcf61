"""Persistence on SQLite (WAL) through aiosqlite.

One writer connection; every write batch is one ``BEGIN IMMEDIATE``
transaction; reads go through their own connection. Knows nothing of HTTP:
it imports ``protocol`` and libraries, never ``federation`` or ``node``, and
its own modules import each other without loops (tests/test_storage_imports.py).

- ``store``: :class:`~storage.store.Store`, the typed stores opened together;
  ``database`` and ``migrations``: the connections and the schema;
  ``sql``: ``IN`` lists, statements from fixed parts, the statement splitter.
- ``classify`` decides what becomes of each record of a batch (pure);
  ``records`` writes it; ``stored`` reads records back; ``versions``,
  ``rollup``, ``quarantine`` and ``members`` keep what a write changes.
- ``filters``, ``queries`` and ``stats``: filtered reads and aggregates;
  ``columns``: the query columns filled at insert time.
- ``feeds`` and ``peers`` for sync, ``nonces`` for the federation's replay
  check; ``submissions`` and ``tokens`` for the node's users; ``backup``:
  backing up and restoring the database file.

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
