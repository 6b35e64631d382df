"""Schema versions of the database, applied in order through `PRAGMA user_version`.

MIGRATIONS[n] turns a version-n database into version n + 1, so the schema
version of a database is the number of migrations applied to it. A new version
is one more entry at the end. Never edit a released entry, because databases
in the field have already run it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# Version 1: conversations and messages. `message_count` is kept by triggers so
# listing conversations never counts messages.
_V1 = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    model TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_activity ON conversations (updated_at DESC, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'complete'
        CHECK (status IN ('complete', 'stopped', 'error', 'streaming')),
    metadata TEXT
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
    UPDATE conversations SET message_count = message_count + 1 WHERE id = new.conversation_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
    UPDATE conversations SET message_count = message_count - 1 WHERE id = old.conversation_id;
END;
"""

# Version 2 adds three things.
# - The full-text index: an external-content FTS5 table kept in step by
#   triggers. 'rebuild' indexes the messages that a version-1 database contains.
# - The process that writes a streaming reply, so that a later start can tell
#   a crashed writer from a live one.
# - The reply measurements as columns, which read much faster than JSON (see
#   termchat.store.rows). They have no declared type, so SQLite stores each
#   value as given. `metadata_keys` is a bit mask of the measurement columns
#   that contain a key of the metadata, and `metadata` keeps the other keys as JSON.
#   Version-1 rows have a NULL mask and their whole metadata in `metadata`.
_V2 = """
ALTER TABLE messages ADD COLUMN metadata_keys INTEGER;
ALTER TABLE messages ADD COLUMN tokens_in;
ALTER TABLE messages ADD COLUMN tokens_out;
ALTER TABLE messages ADD COLUMN time_to_first_token;
ALTER TABLE messages ADD COLUMN tokens_per_second;
ALTER TABLE messages ADD COLUMN stop_reason;
ALTER TABLE messages ADD COLUMN turns_dropped;
ALTER TABLE messages ADD COLUMN context_size;
ALTER TABLE messages ADD COLUMN error;
ALTER TABLE messages ADD COLUMN writer_pid INTEGER;
ALTER TABLE messages ADD COLUMN writer_host TEXT;
ALTER TABLE messages ADD COLUMN writer_started INTEGER;
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
"""

Migration = Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Migration:
    def apply(connection: sqlite3.Connection) -> None:
        for statement in _split_statements(sql):
            connection.execute(statement)

    return apply


def _split_statements(sql: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies whole.

    `executescript` would commit the open transaction, so each statement runs
    through `execute` inside the migration's own transaction instead.
    """
    statements: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


MIGRATIONS: list[Migration] = [_script(_V1), _script(_V2)]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations from the database's version up to `target`, and return the version before.

    Each migration runs in its own IMMEDIATE transaction together with the
    version bump, so a crash leaves the database at a complete version. The
    version is read again after taking the write lock, because another process
    may have migrated the file in the meantime.
    """
    start = connection.execute("PRAGMA user_version").fetchone()[0]
    version = start
    while version < target:
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version < target:
                MIGRATIONS[version](connection)
                version += 1
                connection.execute(f"PRAGMA user_version = {version:d}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return start
