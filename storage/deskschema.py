"""The tables of the moderators' desk (:mod:`storage.desk`), for :mod:`storage.migrations`.

Apart from :mod:`storage.desk` because the migrations may import nothing that
imports the database.
"""

from typing import Final

DESK_MIGRATION: Final = """
ALTER TABLE submissions ADD COLUMN duplicate_of TEXT;  -- a submission id or a record id (hex)
CREATE INDEX submissions_queue ON submissions (status, received_on);
CREATE INDEX audit_log_submission ON audit_log (submission, seq);
CREATE TABLE submission_claims (
    submission TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,               -- the audit log's actor
    since_ms   INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE submission_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    submission  TEXT NOT NULL,
    type        TEXT NOT NULL,              -- note, question or answer
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    sealed      BLOB,                       -- a note's or an answer's box; NULL once purged
    key_ids     TEXT NOT NULL DEFAULT '[]', -- the keys the box is sealed to
    question    TEXT,                       -- a question's text; NULL once purged
    question_id INTEGER                     -- the question an answer answers
);
CREATE INDEX submission_items_submission ON submission_items (submission, id);
"""
