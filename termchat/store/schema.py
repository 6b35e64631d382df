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

CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0x31A0, 0x31BF),  # Bopomofo Extended
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xAC00, 0xD7FF),  # Hangul Syllables, Hangul Jamo Extended-B
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0xFF66, 0xFFDC),  # Halfwidth Katakana and Hangul
    (0x20000, 0x3FFFF),  # CJK Unified Ideographs Extensions B to H, and compatibility supplement
)
"""Code point ranges of the characters that mark a message for the trigram index.

Chinese and Japanese are written without spaces between words, and Korean
attaches particles to words, so these scripts need substring search. Part of
schema version 3: changing the ranges needs a new migration that refills
messages_cjk_fts.
"""

# A GLOB character class is compared by code point, so it can hold the ranges as they are.
_CJK_GLOB = "*[" + "".join(f"{chr(first)}-{chr(last)}" for first, last in CJK_RANGES) + "]*"

# The trigram tokenizer and GLOB stop at the first NUL character, and replace()
# cannot remove NUL, so the index gets a message containing NUL as a JSON
# string, where NUL is the escape \u0000. In such a message a term can also
# match across an escape ("n北京" in "\n北京"). CAST(x'00' AS TEXT) is a
# one-byte NUL string, which instr() finds: char(0) would be an empty one.
_INDEXED_TEXT = (
    "CASE WHEN instr(new.content, CAST(x'00' AS TEXT)) > 0 "
    "THEN json_quote(new.content) ELSE new.content END"
)
_HAS_CJK = f"({_INDEXED_TEXT}) GLOB '{_CJK_GLOB}'"

# Version 3 adds substring search for Chinese, Japanese and Korean text.
# The unicode61 tokenizer of messages_fts makes a whole run of CJK characters
# one token, so it finds a word only where the text has spaces around it.
# messages_cjk_fts indexes the messages that contain a CJK character with
# the trigram tokenizer (SQLite 3.34 or later), which matches any substring of
# 3 or more characters, ignoring case. It keeps its own copy of the text, so a
# message leaves it by rowid alone. Messages without CJK text stay out of it,
# because trigrams are large: indexing every message of the store_scale
# benchmark grew its database from 20 MB to 46 MB.
# The alias `new` lets the INSERT ... SELECT share the triggers' expressions.
_V3 = f"""
CREATE VIRTUAL TABLE messages_cjk_fts USING fts5 (content, tokenize = 'trigram');
INSERT INTO messages_cjk_fts (rowid, content)
    SELECT id, {_INDEXED_TEXT} FROM messages AS new WHERE {_HAS_CJK};

CREATE TRIGGER messages_cjk_insert AFTER INSERT ON messages WHEN {_HAS_CJK} BEGIN
    INSERT INTO messages_cjk_fts (rowid, content) VALUES (new.id, {_INDEXED_TEXT});
END;
CREATE TRIGGER messages_cjk_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_cjk_fts WHERE rowid = old.id;
END;
CREATE TRIGGER messages_cjk_update AFTER UPDATE OF content ON messages BEGIN
    DELETE FROM messages_cjk_fts WHERE rowid = old.id;
    INSERT INTO messages_cjk_fts (rowid, content) SELECT new.id, {_INDEXED_TEXT} WHERE {_HAS_CJK};
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


MIGRATIONS: list[Migration] = [_script(_V1), _script(_V2), _script(_V3)]
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
