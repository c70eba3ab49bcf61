"""The banscan record format and federation messages: pure functions from bytes to values.

Nothing in this package imports asyncio, aiohttp or aiosqlite or any other
banscan package, and nothing in it does I/O except ``sealing.ModeratorKey``'s
``load`` and ``save`` of a key file. It is specified byte by byte in
``docs/protocol.md`` and pinned by the vectors in ``tests/vectors/``. Modules
as of now:

- ``keys``: Ed25519 keys, their ``ed25519:`` text form, signing and verifying;
- ``envelope``: the signed envelope and its canonical encoding;
- ``records``: signed records, the wire form, batches and a receiver's checks;
- ``kinds`` and ``fields``: the record kinds and the schema of their bodies;
- ``validation``: a body or report that fails its schema, in our own words;
- ``countries`` and ``geohash``: the values of country and area fields;
- ``limits``: size and count limits;
- ``utc``: moments (milliseconds since the epoch) as UTC text;
- ``bundle``: bundle files, verifiable offline;
- ``sync``: federation messages, vectors and their digests;
- ``trust``: the trust rule: membership state, acceptance and audiences;
- ``sealing``: moderator keys and sealed boxes for a submission's private part;
- ``errors``: the one error tree of banscan, drawn in its docstring, and the
  errors all of these raise.
"""

PROTOCOL_VERSION = "banscan/1"
