"""The banscan record format: pure functions from bytes to values.

Nothing in this package performs I/O or imports asyncio, aiohttp or aiosqlite;
it is specified byte by byte in ``docs/protocol.md`` and pinned by the vectors
in ``tests/vectors/``.
"""

PROTOCOL_VERSION = "banscan/1"
