"""Schema migrations, applied in order at start-up; ``PRAGMA user_version`` counts them.

Fields that queries filter or group on are columns filled at insert time, so
no query decodes bodies. Bodies live in their own table so a retraction or a
legal purge deletes them while the signed envelope stays verifiable.
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
)
