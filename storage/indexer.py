"""The indexer: follows the log of acknowledged records (:mod:`storage.pending`) into
the index every query, stats answer, page and export reads.

One task on the event loop. Each step is one transaction through
:meth:`storage.database.Database.write`: it takes up to :data:`CHUNK` rows of the
log in ``lsn`` order, rebuilds each record from its bytes, writes its index
(:func:`storage.indexwrite.index_stored`) and deletes those rows, so a crash
redoes exactly the step it lost and the index is exact as of one position of the
log. The database's write lock is first come, first served, so a batch waiting to
be acknowledged is written between two steps, never behind several.

The indexer is woken when a batch is logged, and resumes at start when rows wait.
It then waits for a quiet moment: :data:`QUIET_S` with no batch logged, or, for
batches a sync session pulls, the end of every session pulling
(:meth:`Indexer.pulling`): within a session batches can come more than
:data:`QUIET_S` apart, and a step taken between them held the pull up for the
whole step (one GIL, one write lock), so a million-record pull went no faster
than inline (bench/README.md, "A million-record pull, two-stage"). Following
every batch at once measured worse: a client posting batch after batch had each
acknowledgement wait behind the indexing of the batch before (one process, one
GIL, one write lock), so acknowledgements came no faster than with everything
inline (bench/README.md, "The two-stage ingest in the node"). It indexes at once
when a read waits for it (:meth:`Indexer.caught_up`), or when
:data:`MAX_BACKLOG` records wait: beyond that the log does not run further ahead,
and acknowledgements share the writer with the indexer's steps.
A row that cannot be indexed is set aside and reported, never retried for ever: a
body that no longer passes its schema at once (:func:`storage.pending.index_next`),
any other failure of a step by taking its rows one at a time, setting aside the
one that fails alone.

Its figures (``logged``, ``indexed``, ``backlog``) are kept in memory, moved by the
commits of this process: what a read waits for (:meth:`Indexer.caught_up`) and what
answers say. They are read again from the database at start and whenever the
indexer is idle for :data:`IDLE_CHECK_S`, which takes in what another process
(a ``banscan`` command) logged or indexed meanwhile.
"""

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator

import structlog

from protocol.trust import Trust
from storage import pending
from storage.database import Database

_log = structlog.get_logger("banscan.indexer")

# Log rows per transaction: bench/README.md, "The two-stage ingest in the node".
CHUNK = 5_000
# How long no batch must have been logged before the indexer takes a step.
QUIET_S = 0.5
# Records waiting beyond which it takes steps whatever arrives: a fresh node's first
# pull of a whole network (issue 16 plans for 1,000,000 records) is acknowledged before
# it is indexed. The log's rows cost disk until indexed (about 1.1 KB a record), and a
# look-up by id scans them (storage.pending).
MAX_BACKLOG = 1_000_000
IDLE_CHECK_S = 5.0
# After a step failed: how long before the indexer tries again.
RETRY_S = 1.0


class Indexer:
    """The index's position in the log, and the task that moves it."""

    def __init__(
        self, db: Database, clock: Callable[[], int], trust: Trust, chunk: int = CHUNK
    ) -> None:
        self._db = db
        self._clock = clock
        self._trust = trust
        self.chunk = chunk
        # The last position logged, and the one through which everything is indexed.
        self.logged = 0
        self.indexed = 0
        self.set_aside = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._one_at_a_time = 0
        self._last_logged = 0.0  # time.monotonic() of the last batch logged
        self._pulling = 0  # sync sessions pulling now (Indexer.pulling)

    @property
    def backlog(self) -> int:
        """Records acknowledged and not yet indexed."""
        return max(0, self.logged - self.indexed)

    async def start(self) -> None:
        """Read the log's state and start following it."""
        self._loop = asyncio.get_running_loop()
        await self._db.write(self._read_state)
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="banscan indexer")

    async def stop(self, *, finish: bool = False) -> None:
        """Stop after the step under way (its transaction commits or rolls back whole).
        With ``finish``, a backlog of one step or less is indexed first, so that a node
        stopped cleanly leaves its index complete; a larger one waits for the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if finish and 0 < self.backlog <= self.chunk and self._loop is not None:
            try:
                await self._db.write(self._step, self._stepped)
            except Exception as exc:  # indexed at the next start instead
                _log.warning("indexing before the stop failed", error=str(exc))
        for _, waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()

    # --- told by the writer (on its thread, right after a commit) -------------------

    def logged_through(self, lsn: int) -> None:
        """A batch up to ``lsn`` is in the log and committed."""
        self.logged = max(self.logged, lsn)
        self._last_logged = time.monotonic()
        self._call(self._wake.set)

    def indexed_through(self, lsn: int) -> None:
        """Everything up to ``lsn`` is indexed (or set aside) and committed."""
        self.indexed = max(self.indexed, lsn)
        self.logged = max(self.logged, lsn)
        self._call(self._release)

    @contextlib.contextmanager
    def pulling(self) -> Iterator[None]:
        """Around a sync session: its batches are indexed once every session pulling
        has ended (or a read waits, or :data:`MAX_BACKLOG` records wait)."""
        self._pulling += 1
        try:
            yield
        finally:
            self._pulling -= 1
            if not self._pulling:
                self.hurry()

    def hurry(self) -> None:
        """No more batches are coming for now (a sync session ended): index at once."""
        self._last_logged = 0.0
        self._wake.set()

    def _call(self, what: Callable[[], None]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(what)

    # --- readers ----------------------------------------------------------------------

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until everything logged when called is indexed, at most ``timeout_s``."""
        target = self.logged
        if self.indexed >= target:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        self._wake.set()  # a reader waits: no quiet moment to wait for
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        except TimeoutError:
            return False
        finally:
            if not waiter.done():
                waiter.cancel()
        return True

    def _release(self) -> None:
        keep = []
        for target, waiter in self._waiters:
            if waiter.done():
                continue
            if target <= self.indexed:
                waiter.set_result(None)
            else:
                keep.append((target, waiter))
        self._waiters = keep

    # --- the task ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            delay = self._delay()
            if delay is not None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    if not self.backlog:
                        await self._db.write(self._read_state)
                continue
            try:
                await self._db.write(self._step, self._stepped)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a step's own failure: narrow it down to one row
                await self._failed(exc)
            # Writes queued meanwhile (a batch to acknowledge) take the lock first.
            await asyncio.sleep(0)

    def _delay(self) -> float | None:
        """How long to wait before the next step; None for at once."""
        if not self.backlog:
            return IDLE_CHECK_S
        if self._waiters or self.backlog >= MAX_BACKLOG:
            return None
        if self._pulling:  # woken by the session's end (pulling), or by a read
            return IDLE_CHECK_S
        quiet = time.monotonic() - self._last_logged
        return None if quiet >= QUIET_S else QUIET_S - quiet

    def _step(self, conn: sqlite3.Connection) -> pending.Step | None:
        size = 1 if self._one_at_a_time else self.chunk
        step = pending.index_next(conn, size, self._trust.stewards, self._clock())
        if step is None:  # indexed by another process, or by the inline path
            self._read_state(conn)
        return step

    def _stepped(self, step: pending.Step | None) -> None:
        if step is not None:
            self.set_aside += step.set_aside
            self._one_at_a_time = max(0, self._one_at_a_time - 1)
            self.indexed_through(step.through)

    async def _failed(self, exc: Exception) -> None:
        if isinstance(exc, sqlite3.OperationalError):  # the database's, not a row's: retry
            _log.warning("an indexer step failed; retrying", error=str(exc))
            await asyncio.sleep(RETRY_S)
            return
        if self._one_at_a_time:
            # One row failed alone: set it aside, so the rows after it go on.
            def aside(conn: sqlite3.Connection) -> int | None:
                lsn = pending.next_lsn(conn)
                if lsn is not None:
                    pending.set_aside(conn, lsn, f"{type(exc).__name__}: {exc}")
                return lsn

            try:
                lsn = await self._db.write(aside)
            except Exception as again:  # the task must go on
                _log.warning("setting a record aside failed; retrying", error=str(again))
                await asyncio.sleep(RETRY_S)
                return
            if lsn is not None:
                self.set_aside += 1
                self._one_at_a_time = max(0, self._one_at_a_time - 1)
                self.indexed_through(lsn)
            return
        _log.warning("an indexer step failed; taking its rows one at a time", error=str(exc))
        self._one_at_a_time = self.chunk
        await asyncio.sleep(RETRY_S)

    def _read_state(self, conn: sqlite3.Connection) -> None:
        """The log's state from the database (another process may have moved it)."""
        logged = pending.last_lsn(conn)
        first = pending.next_lsn(conn)
        self.logged = logged
        self.indexed = logged if first is None else first - 1
        row = conn.execute("SELECT COUNT(set_aside) FROM pending").fetchone()
        self.set_aside = int(row[0])
        self._call(self._release)
