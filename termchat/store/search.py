"""Full-text search over message text with SQLite FTS5.

NOTE: the unicode61 tokenizer splits words at spaces and punctuation only, so
Chinese or Japanese text without spaces is one token, and searching for a
part of it ("你好" in "你好世界") finds nothing.
"""

from __future__ import annotations

from typing import Any

from termchat.store.models import SearchHit
from termchat.store.rows import (
    CONVERSATION_FIELDS,
    MESSAGE_COLUMN_COUNT,
    MESSAGE_COLUMNS,
    conversations_from_rows,
    messages_from_rows,
)
from termchat.store.text import clean_text

_MESSAGE_COLUMNS = ", ".join(f"m.{name.strip()}" for name in MESSAGE_COLUMNS.split(","))
_CONVERSATION_COLUMNS = ", ".join(f"c.{name}" for name in CONVERSATION_FIELDS)

SEARCH_SQL = (
    f"SELECT {_MESSAGE_COLUMNS}, {_CONVERSATION_COLUMNS}, "
    "snippet(messages_fts, 0, ?, ?, '…', 16) "
    "FROM messages_fts "
    "JOIN messages AS m ON m.id = messages_fts.rowid "
    "JOIN conversations AS c ON c.id = m.conversation_id "
    "WHERE messages_fts MATCH ? ORDER BY rank, m.id DESC LIMIT ?"
)
"""Query for the best matches first. Its parameters are the snippet start and end markers, the MATCH expression and the limit."""


def fts_query(query: str) -> str | None:
    """Build an FTS5 MATCH expression that finds rows containing every word of `query`.

    Each word becomes a string in double quotes (with inner quotes doubled),
    which FTS5 treats as a phrase, never as an operator. Returns None when
    `query` has no words. NUL characters count as spaces, because the FTS5
    query parser reads a C string and would stop at the first one.
    """
    words = clean_text(query).replace("\x00", " ").split()
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def hits_from_rows(rows: list[tuple[Any, ...]]) -> list[SearchHit]:
    """Build search hits from rows of SEARCH_SQL."""
    split = MESSAGE_COLUMN_COUNT
    messages = messages_from_rows([row[:split] for row in rows])
    conversations = conversations_from_rows([row[split:-1] for row in rows])
    return [
        SearchHit(conversation=conversation, message=message, snippet=row[-1])
        for message, conversation, row in zip(messages, conversations, rows, strict=True)
    ]
