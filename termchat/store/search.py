"""Full-text search over message text with SQLite FTS5.

A query without Chinese, Japanese or Korean characters searches the words of
messages_fts (unicode61 tokenizer: whole words, case and accents folded).
A query with such characters searches substrings instead, because those
scripts do not put spaces between words: terms of 3 or more characters go
through the trigram index messages_cjk_fts, shorter ones through a scan of
the message text (see termchat.store.schema).

NOTE: in a CJK query every term is a substring, Latin words included, and
accents are not folded there ("cafe" does not find "café"), because the
trigram tokenizer of SQLite 3.40 has no remove_diacritics option.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

from termchat.store.models import SearchHit
from termchat.store.rows import (
    CONVERSATION_FIELDS,
    MESSAGE_COLUMN_COUNT,
    MESSAGE_COLUMNS,
    conversations_from_rows,
    messages_from_rows,
)
from termchat.store.schema import CJK_RANGES
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

TRIGRAM_LENGTH = 3
"""Minimum characters of a term that the trigram index can match."""

SNIPPET_LENGTH = 48
"""Characters of message text around the first match in a snippet of a CJK search, markers not counted."""

_CJK_CHARACTER = re.compile("[" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in CJK_RANGES) + "]")

# Runs of letters and digits, the characters that unicode61 keeps in a token:
# punctuation, FTS5 syntax characters and whitespace separate terms.
_TERM = re.compile(r"[^\W_]+")

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


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


def cjk_terms(query: str) -> list[str] | None:
    """Return the substrings that a query with CJK characters searches for, or None for any other query.

    The terms are the runs of letters and digits of `query`, without repeats,
    so quotes, `*`, parentheses and other FTS5 syntax characters only
    separate terms. The list is empty when a CJK query has no letters.
    """
    text = clean_text(query)
    if _CJK_CHARACTER.search(text) is None:
        return None
    return list(dict.fromkeys(_TERM.findall(text)))


def cjk_search_sql(terms: Sequence[str], limit: int) -> tuple[str, list[Any]]:
    """Build the query and parameters that find messages containing every term as a substring.

    With a term of TRIGRAM_LENGTH or more characters, the trigram index finds
    the candidates, ignoring case, and ranks them (FTS5 rank). Shorter terms,
    which the index cannot match, are tested on each candidate's text,
    ignoring the case of ASCII letters only. When every term
    is short, the query scans the messages from the newest and stops after
    `limit` matches, so the newest matches come first.
    """
    long_terms = [term for term in terms if len(term) >= TRIGRAM_LENGTH]
    short_terms = [term for term in terms if len(term) < TRIGRAM_LENGTH]

    conditions: list[str] = []
    parameters: list[Any] = []
    for term in short_terms:
        # instr() reads past NUL characters, where LIKE would stop. SQLite's
        # lower() folds ASCII letters only, so the term is folded the same way.
        if any(character in string.ascii_letters for character in term):
            conditions.append("instr(lower(m.content), ?) > 0")
            parameters.append(term.translate(_ASCII_LOWER))
        else:
            conditions.append("instr(m.content, ?) > 0")
            parameters.append(term)

    select = f"SELECT {_MESSAGE_COLUMNS}, {_CONVERSATION_COLUMNS} "
    if long_terms:
        match = " ".join('"' + term + '"' for term in long_terms)
        where = " AND ".join(["messages_cjk_fts MATCH ?", *conditions])
        sql = (
            f"{select}FROM messages_cjk_fts "
            "JOIN messages AS m ON m.id = messages_cjk_fts.rowid "
            "JOIN conversations AS c ON c.id = m.conversation_id "
            f"WHERE {where} ORDER BY rank, m.id DESC LIMIT ?"
        )
        return sql, [match, *parameters, limit]

    sql = (
        f"{select}FROM messages AS m "
        "JOIN conversations AS c ON c.id = m.conversation_id "
        f"WHERE {' AND '.join(conditions)} ORDER BY m.id DESC LIMIT ?"
    )
    return sql, [*parameters, limit]


def make_snippet(content: str, terms: Sequence[str], start_marker: str, end_marker: str) -> str:
    """Cut about SNIPPET_LENGTH characters of `content` around the first match and mark every match in it.

    Matching ignores case. "…" marks text cut off at either end, as in the
    snippets of FTS5.
    """
    pattern = re.compile(
        "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)), re.IGNORECASE
    )
    first = pattern.search(content)
    if first is None:
        # The index can match the JSON form of a message with NUL characters (see
        # termchat.store.schema), or fold case unlike Python. The snippet then shows the start.
        window_start, window_end = 0, min(len(content), SNIPPET_LENGTH)
    else:
        window_start = max(0, first.start() - SNIPPET_LENGTH // 4)
        window_end = max(first.end(), min(len(content), window_start + SNIPPET_LENGTH))
        window_start = max(0, min(window_start, window_end - SNIPPET_LENGTH))

    parts = ["…"] if window_start > 0 else []
    position = window_start
    for match in pattern.finditer(content, window_start, window_end):
        parts += [content[position:match.start()], start_marker, match.group(), end_marker]
        position = match.end()
    parts.append(content[position:window_end])
    if window_end < len(content):
        parts.append("…")
    return "".join(parts)


def hits_from_rows(rows: list[tuple[Any, ...]]) -> list[SearchHit]:
    """Build search hits from rows of SEARCH_SQL."""
    split = MESSAGE_COLUMN_COUNT
    messages = messages_from_rows([row[:split] for row in rows])
    conversations = conversations_from_rows([row[split:-1] for row in rows])
    return [
        SearchHit(conversation=conversation, message=message, snippet=row[-1])
        for message, conversation, row in zip(messages, conversations, rows, strict=True)
    ]


def cjk_hits_from_rows(
    rows: list[tuple[Any, ...]], terms: Sequence[str], start_marker: str, end_marker: str
) -> list[SearchHit]:
    """Build search hits from rows of the query of `cjk_search_sql`, with snippets made by `make_snippet`."""
    split = MESSAGE_COLUMN_COUNT
    messages = messages_from_rows([row[:split] for row in rows])
    conversations = conversations_from_rows([row[split:] for row in rows])
    return [
        SearchHit(
            conversation=conversation,
            message=message,
            snippet=make_snippet(message.content, terms, start_marker, end_marker),
        )
        for message, conversation in zip(messages, conversations, strict=True)
    ]
