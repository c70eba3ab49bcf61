"""Schema migrations, applied in order at start-up; ``PRAGMA user_version`` counts them.

A migration is SQL, optionally followed by a backfill of existing rows, in one transaction.
Fields that queries filter or group on are columns filled at insert time, so no query decodes
bodies. Bodies live in their own table so a retraction, or a steward's revocation of their origin,
deletes them while the signed envelope stays verifiable (docs/protocol.md section 7.2).
"""

from collections.abc import Awaitable, Callable

import aiosqlite

from protocol.kinds import decode_body, is_known_kind
from storage import campaign, campaignindexes, facets, mapareas, mapgrid, pending, rollup
from storage.columns import QUERY_COLUMNS, V2_QUERY_COLUMNS, query_columns, summary_text
from storage.deskschema import DESK_MIGRATION
from storage.listindexes import FEWER_INDEXES, LIST_INDEXES, UNUSED_INDEXES
from storage.rollupremove import REMOVE_TRIGGER
from storage.sql import statement

_SUBMISSIONS = """
CREATE TABLE submissions (
    id           TEXT PRIMARY KEY,         -- random; what moderators name it by
    receipt_hash BLOB NOT NULL UNIQUE,     -- SHA-256 of the reporter's receipt code
    kind         TEXT NOT NULL,            -- incident or deployment
    received_on  TEXT NOT NULL,            -- UTC day only
    triage       TEXT NOT NULL,            -- JSON of the coarse, publishable fields
    sealed       BLOB,                     -- the private part, sealed; NULL once purged
    key_ids      TEXT NOT NULL,            -- the moderator keys it is sealed to
    status       TEXT NOT NULL DEFAULT 'pending',
    decided_ms   INTEGER,                  -- last moderation decision
    record_id    BLOB,                     -- latest record published from it
    reason       TEXT,                     -- why it was rejected or retracted
    purged_ms    INTEGER
);
CREATE INDEX submissions_status ON submissions (status);

CREATE TABLE moderator_keys (
    key_id   TEXT PRIMARY KEY,
    public   TEXT NOT NULL,                -- mlkem768x25519:...
    label    TEXT NOT NULL,
    added_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms      INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    submission TEXT,
    record_id  BLOB,
    detail     TEXT NOT NULL,              -- JSON; never private content
    hash       BLOB NOT NULL               -- SHA-256 over the previous hash and this entry
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: records, bodies, feeds, fork evidence, API tokens
    """
    CREATE TABLE records (
        rid         INTEGER PRIMARY KEY,      -- local arrival order; list cursors use it
        id          BLOB NOT NULL UNIQUE,     -- SHA-256 of the envelope bytes
        origin      BLOB NOT NULL,
        audience    TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        created_ms  INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        envelope    BLOB NOT NULL,
        signature   BLOB NOT NULL,
        received_ms INTEGER NOT NULL,
        erased_ms   INTEGER,                  -- set when the body was deleted
        country     TEXT,
        city        TEXT,
        category    TEXT,
        occurred_on TEXT,
        UNIQUE (origin, audience, seq)
    );
    CREATE INDEX records_kind ON records (kind);
    CREATE INDEX records_audience ON records (audience);
    CREATE INDEX records_created ON records (created_ms);
    CREATE INDEX records_country ON records (country, category);
    CREATE INDEX records_city ON records (city);
    CREATE INDEX records_category ON records (category);
    CREATE INDEX records_occurred ON records (occurred_on);

    CREATE TABLE bodies (
        rid  INTEGER PRIMARY KEY REFERENCES records (rid),
        body BLOB NOT NULL
    );

    -- The highest contiguous seq held for each (origin, audience) feed.
    CREATE TABLE feeds (
        origin   BLOB NOT NULL,
        audience TEXT NOT NULL,
        max_seq  INTEGER NOT NULL,
        PRIMARY KEY (origin, audience)
    ) WITHOUT ROWID;

    -- A second envelope for a feed slot already taken: proof that its origin misbehaved.
    CREATE TABLE forks (
        id          BLOB PRIMARY KEY,
        origin      BLOB NOT NULL,
        audience    TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        envelope    BLOB NOT NULL,
        signature   BLOB NOT NULL,
        first_id    BLOB NOT NULL,
        detected_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX forks_origin ON forks (origin);

    CREATE TABLE tokens (
        hash       BLOB PRIMARY KEY,          -- SHA-256 of the token, never the token
        role       TEXT NOT NULL,
        label      TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: query columns for incidents and deployments, supersede and retraction
    # state, and full-text search over incident summaries. Existing rows are
    # filled by storage.database's backfill for this version.
    """
    ALTER TABLE records ADD COLUMN region TEXT;
    ALTER TABLE records ADD COLUMN technology TEXT;
    ALTER TABLE records ADD COLUMN agency TEXT;
    ALTER TABLE records ADD COLUMN status TEXT;          -- incident verification, deployment status
    ALTER TABLE records ADD COLUMN area TEXT;            -- incident geohash cell
    ALTER TABLE records ADD COLUMN lat_e7 INTEGER;       -- deployment point
    ALTER TABLE records ADD COLUMN lon_e7 INTEGER;
    ALTER TABLE records ADD COLUMN supersedes BLOB;      -- id of the version this one replaces
    ALTER TABLE records ADD COLUMN retracts BLOB;        -- a retraction's target id
    ALTER TABLE records ADD COLUMN superseded_by BLOB;   -- set when a later version arrives
    ALTER TABLE records ADD COLUMN retracted_by BLOB;    -- set when an effective retraction arrives
    CREATE INDEX records_supersedes ON records (supersedes) WHERE supersedes IS NOT NULL;
    CREATE INDEX records_retracts ON records (retracts) WHERE retracts IS NOT NULL;
    CREATE INDEX records_area ON records (area) WHERE area IS NOT NULL;
    CREATE INDEX records_point ON records (lat_e7, lon_e7) WHERE lat_e7 IS NOT NULL;
    CREATE INDEX records_agency ON records (agency COLLATE NOCASE) WHERE agency IS NOT NULL;
    CREATE VIRTUAL TABLE summaries USING fts5 (summary);  -- rowid is the record's rid
    """,
    # 3: indexes over current records (what queries see), measured with bench/query.py on
    # 1,000,000 records: newest-first pages and exports by kind, pages filtered by place
    # and category. Their WHERE repeats storage.queries' conditions, so SQLite uses them.
    """
    CREATE INDEX records_current_created ON records (kind, created_ms)
        WHERE superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    CREATE INDEX records_current_place ON records (kind, country, category, created_ms)
        WHERE superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    """,
    # 4: federation. Membership state derived from stewards' membership records,
    # the quarantine for records whose origin is not (yet) a member, and for each
    # peer its scheduling state and the vector it last advertised (its checkpoint).
    """
    CREATE TABLE members (
        subject              BLOB PRIMARY KEY,     -- the member's node key
        action               TEXT NOT NULL,        -- admit, suspend or revoke: the latest wins
        role                 TEXT NOT NULL,        -- chapter or coordinator
        name                 TEXT NOT NULL,
        city                 TEXT,
        country              TEXT,
        compromised_since_ms INTEGER,              -- revoke only
        decided_ms           INTEGER NOT NULL,     -- created_ms of the deciding record
        record_id            BLOB NOT NULL         -- the deciding membership record
    ) WITHOUT ROWID;

    CREATE TABLE quarantine (
        id          BLOB PRIMARY KEY,
        origin      BLOB NOT NULL,
        audience    TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        envelope    BLOB NOT NULL,
        signature   BLOB NOT NULL,
        body        BLOB,
        size        INTEGER NOT NULL,              -- bytes held, for the space bound
        received_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX quarantine_origin ON quarantine (origin, audience, seq);
    CREATE INDEX quarantine_received ON quarantine (received_ms);

    CREATE TABLE peers (
        key              BLOB PRIMARY KEY,         -- the peer's node key
        url              TEXT NOT NULL,
        source           TEXT NOT NULL,            -- config, cli or discovered
        added_ms         INTEGER NOT NULL,
        last_attempt_ms  INTEGER,
        last_success_ms  INTEGER,
        failures         INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
        last_error       TEXT,
        backoff_until_ms INTEGER
    ) WITHOUT ROWID;

    -- What each peer last advertised: {(origin, audience): max contiguous seq}.
    CREATE TABLE peer_feeds (
        peer     BLOB NOT NULL,
        origin   BLOB NOT NULL,
        audience TEXT NOT NULL,
        max_seq  INTEGER NOT NULL,
        PRIMARY KEY (peer, origin, audience)
    ) WITHOUT ROWID;
    """,
    # 5: the stats rollup, filled from existing records, and the triggers that take
    # records out of it (storage.rollup)
    rollup.MIGRATION,
    _SUBMISSIONS,  # 6: submissions, moderator keys, the moderation log (storage.submissions)
    # 7: accepted federation requests' nonces, kept across restarts (storage.nonces)
    """
    CREATE TABLE request_nonces (
        keyid   TEXT NOT NULL,                 -- the signer's keyid, as signed
        nonce   TEXT NOT NULL,
        until_s INTEGER NOT NULL,              -- expires + the clock skew, in seconds
        PRIMARY KEY (keyid, nonce)
    ) WITHOUT ROWID;
    CREATE INDEX request_nonces_until ON request_nonces (until_s);
    """,
    # 8: a deployment's FRT capability as a query column, filled by _backfill_frt
    """
    ALTER TABLE records ADD COLUMN frt TEXT;
    CREATE INDEX records_frt ON records (kind, frt) WHERE frt IS NOT NULL;
    """,
    LIST_INDEXES,  # 9: indexes for the site's lists, newest first (storage.listindexes)
    # 10: the map's rollup of deployments per grid cell, backfilled, its triggers (storage.mapgrid)
    mapgrid.MIGRATION,
    # 11: the records indexes no read uses, which every insert paid for (storage.listindexes)
    UNUSED_INDEXES,
    # 12: the campaign kinds' query columns and partial indexes, backfilled (storage.campaign)
    campaign.MIGRATION,
    # 13: the moderators' desk: claims, notes, questions, answers, duplicates (storage.desk)
    DESK_MIGRATION,
    campaignindexes.MIGRATION,  # 14: the campaign pages' indexes (storage.campaignindexes)
    facets.MIGRATION + REMOVE_TRIGGER,  # 15: storage.facets; storage.rollupremove
    campaignindexes.AGENCY_COLUMNS_MIGRATION,  # 16: an agency page's reads (campaignindexes)
    mapareas.MIGRATION,  # 17: the map's rollup of incidents per area cell (storage.mapareas)
    FEWER_INDEXES,  # 18: the records indexes reads no longer need (storage.listindexes)
    # 19: the map's grid at levels 15 to 18, 21, 24 and 27 (storage.mapgrid)
    mapgrid.LEVELS_MIGRATION,
    # 20: the log of records acknowledged and not yet indexed (storage.pending)
    pending.MIGRATION,
)


async def _backfill_query_columns(conn: aiosqlite.Connection) -> None:
    """Version 2: fill the query columns and the summary index from stored bodies."""
    rows = await conn.execute_fetchall(
        "SELECT r.rid, r.kind, b.body FROM records r JOIN bodies b ON b.rid = r.rid"
    )
    updates, summaries = [], []
    for rid, kind, body in rows:
        if not is_known_kind(kind):
            continue
        content = decode_body(kind, body)
        updates.append((*query_columns(content)[: len(V2_QUERY_COLUMNS)], rid))
        if (text := summary_text(content)) is not None:
            summaries.append((rid, text))
    assignments = ", ".join(f"{column} = ?" for column in V2_QUERY_COLUMNS)
    sql = statement("UPDATE records SET {assignments} WHERE rid = ?", assignments=assignments)
    await conn.executemany(sql, updates)
    await conn.executemany("INSERT INTO summaries (rowid, summary) VALUES (?, ?)", summaries)


async def _backfill_frt(conn: aiosqlite.Connection) -> None:
    """Version 8: a stored deployment's FRT capability status."""
    rows = await conn.execute_fetchall(
        "SELECT r.rid, b.body FROM records r JOIN bodies b ON b.rid = r.rid"
        " WHERE r.kind = 'deployment'"
    )
    frt = QUERY_COLUMNS.index("frt")
    updates = [(query_columns(decode_body("deployment", body))[frt], rid) for rid, body in rows]
    await conn.executemany("UPDATE records SET frt = ? WHERE rid = ?", updates)


BACKFILLS: dict[int, Callable[[aiosqlite.Connection], Awaitable[None]]] = {
    2: _backfill_query_columns,
    8: _backfill_frt,
    12: campaign.backfill,
}
