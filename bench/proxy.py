"""A TCP proxy on 127.0.0.1 that forwards to a port and counts the bytes each way, so a
benchmark can weigh everything a sync exchange puts on the wire: request and status lines,
headers and bodies. Used by ``bench/replication.py`` (:class:`ProxyThread`, for code that
is not async) and ``bench/insync.py``.
"""

import asyncio
import threading

_KEPT_BYTES = 1 << 14


class CountingProxy:
    """Forwards TCP connections on 127.0.0.1 to a target port and counts the bytes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.upstream = 0  # client to server: requests
        self.downstream = 0  # server to client: answers
        self.connections = 0
        # When set, the next bytes each way are kept (from empty, up to 16 KiB), for a look
        # at headers.
        self.capture = False
        self.sent = bytearray()
        self.received = bytearray()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def total(self) -> int:
        return self.upstream + self.downstream

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, up=True), name="proxy-up"),
            asyncio.create_task(self._pipe(up_reader, writer, up=False), name="proxy-down"),
        ):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                if self.capture:
                    self.capture = False
                    self.sent.clear()
                    self.received.clear()
                # Only the start of each way is kept (enough for the headers): a long
                # replication must not keep what it forwards.
                kept = self.sent if up else self.received
                if len(kept) < _KEPT_BYTES:
                    kept += chunk[: _KEPT_BYTES - len(kept)]
                if up:
                    self.upstream += len(chunk)
                else:
                    self.downstream += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


class ProxyThread:
    """A :class:`CountingProxy` on its own event loop in a thread, for synchronous code."""

    def __init__(self, target_port: int) -> None:
        self.proxy = CountingProxy(target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.port = self._loop.run_until_complete(self.proxy.start())
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
