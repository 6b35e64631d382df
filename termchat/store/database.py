"""The SQLite store: conversations and messages, saved as they happen.

Every write is one IMMEDIATE transaction, so two termchat processes on the
same file queue behind SQLite's busy timeout instead of failing halfway. All
sqlite3 errors leave this module as StoreError with a one-line message.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from termchat.i18n import _
from termchat.store import exchange
from termchat.store.errors import StoreError, corrupt_error, error_from_sqlite
from termchat.store.models import Conversation, SearchHit, StoredMessage
from termchat.store.rows import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    METADATA_COLUMNS,
    conversations_from_rows,
    dump_json,
    join_metadata,
    messages_from_rows,
    metadata_parameters,
)
from termchat.store.search import (
    SEARCH_SQL,
    cjk_hits_from_rows,
    cjk_search_sql,
    cjk_terms,
    fts_query,
    hits_from_rows,
)
from termchat.store.text import clean_text, make_title
from termchat.store.writers import current_writer, writer_is_gone

logger = logging.getLogger(__name__)

SHORT_ID_LENGTH = 8
"""Characters of a conversation id shown in lists. Commands accept any unique prefix."""

ROLES = ("system", "user", "assistant")
FINAL_STATUSES = ("complete", "stopped", "error")
ALL_STATUSES = (*FINAL_STATUSES, "streaming")


_METADATA_NAMES = ", ".join(METADATA_COLUMNS)
_METADATA_PLACEHOLDERS = ", ".join("?" for _column in METADATA_COLUMNS)
_METADATA_ASSIGNMENTS = ", ".join(f"{name} = ?" for name in METADATA_COLUMNS)

ExportFormat = Literal["md", "json"]
T = TypeVar("T")


class Store:
    """Conversations and messages in one SQLite database.

    Open it with `open_store`. One Store may be shared by threads: a lock
    serialises its calls on the single connection.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._connection = connection
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._writer = current_writer()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying connection, for tests and benchmarks. Writes must go through Store methods."""
        return self._connection

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Transactions

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """Run the block as one IMMEDIATE transaction. `action` names it in error messages.

        IMMEDIATE takes the write lock at BEGIN, where SQLite waits for the busy
        timeout. A deferred transaction that reads first and then writes can
        fail at once with "database is locked" when another process committed
        in between, whatever the busy timeout.
        """
        with self._lock:
            connection = self._connection
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    # SQLite has already rolled back after some errors, such as SQLITE_FULL.
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise self._error(error, action) from error

    def _fetch(self, action: str, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return all its rows. `action` names it in error messages."""
        with self._lock:
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise self._error(error, action) from error

    def _build(self, build: Callable[[list[tuple[Any, ...]]], list[T]], rows: list[tuple[Any, ...]]) -> list[T]:
        """Turn rows into model objects, raising StoreError(reason="corrupt") for invalid JSON in a row."""
        try:
            return build(rows)
        except ValueError as error:
            logger.error("Store: invalid JSON in %s: %s", self._path, error)
            raise corrupt_error(self._path) from error

    def _error(self, error: sqlite3.Error, action: str) -> StoreError:
        store_error = error_from_sqlite(error, self._path, action)
        logger.warning("Store: could not %s in %s: %s", action, self._path, error)
        return store_error

    # Conversations

    def create_conversation(self, model: str, settings: dict[str, Any], title: str = "") -> Conversation:
        """Insert a new, empty conversation and return it."""
        now = self._clock()
        conversation_id = uuid.uuid4().hex
        with self._write(_("create the conversation")) as connection:
            connection.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, model, settings) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, clean_text(title), now, now, clean_text(model), dump_json(settings)),
            )
        logger.info("Store: created conversation %s (model %s)", conversation_id, model)
        return self.get_conversation(conversation_id)

    def get_conversation(self, conversation_id: str) -> Conversation:
        """Return the conversation with this exact id, or raise StoreError(reason="not_found")."""
        rows = self._fetch(
            _("read the conversation"),
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        if not rows:
            raise StoreError(
                _("No conversation with id {id}. Run 'termchat sessions list' to see the ids.").format(
                    id=conversation_id
                ),
                reason="not_found",
                path=self._path,
            )
        return self._build(conversations_from_rows, rows)[0]

    def resolve_conversation(self, id_or_prefix: str) -> Conversation:
        """Return the conversation whose id is `id_or_prefix` or starts with it.

        Raises StoreError naming the candidates (short id and title) when the
        prefix matches several conversations, and StoreError when it matches none.
        """
        prefix = id_or_prefix.strip().lower()
        if not prefix or any(character not in "0123456789abcdef" for character in prefix):
            raise StoreError(
                _("Invalid conversation id {id!r}: an id is hexadecimal (0-9, a-f). "
                  "Run 'termchat sessions list' to see the ids.").format(id=id_or_prefix),
                reason="invalid",
                path=self._path,
            )

        max_candidates = 10
        # The prefix contains only hex digits, so the range [prefix, prefix + "g") uses the primary key index.
        rows = self._fetch(
            _("find the conversation"),
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id >= ? AND id < ? "
            "ORDER BY updated_at DESC LIMIT ?",
            (prefix, prefix + "g", max_candidates + 1),
        )
        matches = self._build(conversations_from_rows, rows)
        exact = [conversation for conversation in matches if conversation.id == prefix]
        if exact:
            return exact[0]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise StoreError(
                _("No conversation id starts with {prefix!r}. Run 'termchat sessions list' "
                  "to see the ids.").format(prefix=id_or_prefix),
                reason="not_found",
                path=self._path,
            )
        candidates = "; ".join(
            f"{short_id(conversation.id)} {conversation.title or _('(untitled)')!r}"
            for conversation in matches[:max_candidates]
        )
        if len(matches) > max_candidates:
            candidates += "; …"
        raise StoreError(
            _("The id prefix {prefix!r} matches several conversations: {candidates}. "
              "Type more characters of the id.").format(prefix=id_or_prefix, candidates=candidates),
            reason="ambiguous",
            path=self._path,
        )

    def latest_conversation(self) -> Conversation | None:
        """Return the conversation with the most recent activity, or None when there are none."""
        conversations = self.list_conversations(limit=1)
        return conversations[0] if conversations else None

    def list_conversations(self, limit: int = 50, offset: int = 0) -> list[Conversation]:
        """Return conversations, most recent activity first."""
        rows = self._fetch(
            _("list the conversations"),
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return self._build(conversations_from_rows, rows)

    def rename_conversation(self, conversation_id: str, title: str) -> Conversation:
        """Set the title without its leading and trailing whitespace. Renaming does not count as activity."""
        with self._write(_("rename the conversation")) as connection:
            cursor = connection.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (clean_text(title).strip(), conversation_id)
            )
            self._require_row(cursor.rowcount, conversation_id)
        return self.get_conversation(conversation_id)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete the conversation and its messages (foreign keys cascade)."""
        with self._write(_("delete the conversation")) as connection:
            cursor = connection.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            self._require_row(cursor.rowcount, conversation_id)
        logger.info("Store: deleted conversation %s", conversation_id)

    def update_conversation_settings(self, conversation_id: str, model: str, settings: dict[str, Any]) -> Conversation:
        """Save the model and settings that the conversation continues with, which counts as activity."""
        with self._write(_("save the settings")) as connection:
            cursor = connection.execute(
                "UPDATE conversations SET model = ?, settings = ?, updated_at = ? WHERE id = ?",
                (clean_text(model), dump_json(settings), self._clock(), conversation_id),
            )
            self._require_row(cursor.rowcount, conversation_id)
        return self.get_conversation(conversation_id)

    def _require_row(self, rowcount: int, conversation_id: str) -> None:
        if rowcount == 0:
            raise StoreError(
                _("No conversation with id {id}. It may have been deleted in another window.").format(
                    id=conversation_id
                ),
                reason="not_found",
                path=self._path,
            )

    # Messages

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        status: str = "complete",
        metadata: dict[str, Any] | None = None,
    ) -> StoredMessage:
        """Insert a finished message in one transaction and return it.

        The conversation's last activity becomes now. The first user message
        of a conversation without a title also sets the title, shortened at a
        word boundary. Text goes through `clean_text`: lone surrogates become
        U+FFFD, everything else is stored exactly.
        """
        _check_role(role)
        if status not in ALL_STATUSES:
            raise _invalid_status(status, self._path)
        content = clean_text(content)
        metadata_values = metadata_parameters(metadata)
        now = self._clock()
        writer = self._writer
        with self._write(_("save the message")) as connection:
            self._touch(connection, conversation_id, now)
            if role == "user":
                connection.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (make_title(content), conversation_id),
                )
            streaming = status == "streaming"
            cursor = connection.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at, status, "
                f"writer_pid, writer_host, writer_started, {_METADATA_NAMES}) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {_METADATA_PLACEHOLDERS})",
                (
                    conversation_id,
                    role,
                    content,
                    now,
                    status,
                    writer.pid if streaming else None,
                    writer.host if streaming else None,
                    writer.started if streaming else None,
                    *metadata_values,
                ),
            )
            message_id = cursor.lastrowid
        assert message_id is not None
        return StoredMessage(
            id=message_id,
            conversation_id=conversation_id,
            role=role,  # type: ignore[arg-type]
            content=content,
            created_at=now,
            status=status,  # type: ignore[arg-type]
            metadata=join_metadata(metadata_values[0], metadata_values[1], metadata_values[2:]),
        )

    def start_reply(self, conversation_id: str) -> StoredMessage:
        """Insert an empty assistant reply with status `streaming`, recording this process as its writer."""
        return self.add_message(conversation_id, "assistant", "", status="streaming")

    def update_reply(self, message_id: int, content: str) -> None:
        """Replace the text of a streaming reply with the text received so far."""
        now = self._clock()
        with self._write(_("save the reply")) as connection:
            conversation_id = self._message_conversation(connection, message_id)
            connection.execute("UPDATE messages SET content = ? WHERE id = ?", (clean_text(content), message_id))
            self._touch(connection, conversation_id, now)

    def finish_reply(
        self, message_id: int, content: str, status: str, metadata: dict[str, Any] | None = None
    ) -> StoredMessage:
        """Save the final text, status (`complete`, `stopped` or `error`) and metadata of a reply."""
        if status not in FINAL_STATUSES:
            raise _invalid_status(status, self._path)
        metadata_values = metadata_parameters(metadata)
        now = self._clock()
        with self._write(_("save the reply")) as connection:
            conversation_id = self._message_conversation(connection, message_id)
            connection.execute(
                f"UPDATE messages SET content = ?, status = ?, {_METADATA_ASSIGNMENTS}, "
                "writer_pid = NULL, writer_host = NULL, writer_started = NULL WHERE id = ?",
                (clean_text(content), status, *metadata_values, message_id),
            )
            self._touch(connection, conversation_id, now)
        return self.get_message(message_id)

    def get_message(self, message_id: int) -> StoredMessage:
        rows = self._fetch(
            _("read the message"), f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        )
        if not rows:
            raise _message_not_found(message_id, self._path)
        return self._build(messages_from_rows, rows)[0]

    def delete_message(self, message_id: int) -> None:
        """Delete one message, as regenerate and edit-and-resend do with the last turn."""
        with self._write(_("delete the message")) as connection:
            conversation_id = self._message_conversation(connection, message_id)
            connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            self._touch(connection, conversation_id, self._clock())

    def messages(
        self, conversation_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[StoredMessage]:
        """Return the conversation's messages in chronological order.

        With `limit`, only the newest `limit` messages with an id below
        `before_id` (or the newest overall) are returned, still oldest first,
        so a long conversation can be loaded one page at a time.
        """
        where = "conversation_id = ?"
        parameters: list[Any] = [conversation_id]
        if before_id is not None:
            where += " AND id < ?"
            parameters.append(before_id)
        action = _("read the messages")
        if limit is None:
            rows = self._fetch(action, f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {where} ORDER BY id", parameters)
        else:
            rows = self._fetch(
                action,
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {where} ORDER BY id DESC LIMIT ?",
                [*parameters, limit],
            )
            rows.reverse()
        return self._build(messages_from_rows, rows)

    def count_messages(self, conversation_id: str) -> int:
        return self.get_conversation(conversation_id).message_count

    def unanswered_message(self, conversation_id: str) -> StoredMessage | None:
        """Return the last message when it is a user message with no reply after it, else None.

        The TUI offers to generate the missing reply when a resumed
        conversation ends this way (for example after a crash before the reply
        started).
        """
        last = self.messages(conversation_id, limit=1)
        if last and last[0].role == "user":
            return last[0]
        return None

    def _touch(self, connection: sqlite3.Connection, conversation_id: str, now: float) -> None:
        cursor = connection.execute(
            "UPDATE conversations SET updated_at = max(updated_at, ?) WHERE id = ?", (now, conversation_id)
        )
        self._require_row(cursor.rowcount, conversation_id)

    def _message_conversation(self, connection: sqlite3.Connection, message_id: int) -> str:
        row = connection.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise _message_not_found(message_id, self._path)
        return row[0]

    # Crash recovery

    def recover_interrupted_replies(self) -> int:
        """Mark `stopped` every streaming reply whose writer process is gone, and return how many there were.

        open_store calls this. A reply streamed by a live process, this one
        included, is left alone.
        """
        rows = self._fetch(
            _("check for interrupted replies"),
            "SELECT id, writer_pid, writer_host, writer_started FROM messages WHERE status = 'streaming'",
        )
        orphans = [row[0] for row in rows if writer_is_gone(row[1], row[2], row[3])]
        if not orphans:
            return 0
        with self._write(_("mark interrupted replies as stopped")) as connection:
            connection.executemany(
                "UPDATE messages SET status = 'stopped', writer_pid = NULL, writer_host = NULL, "
                "writer_started = NULL WHERE id = ? AND status = 'streaming'",
                [(message_id,) for message_id in orphans],
            )
        logger.info("Store: marked %d interrupted replies as stopped: %s", len(orphans), orphans)
        return len(orphans)

    # Search

    def search(
        self, query: str, limit: int = 50, *, snippet_start: str = "**", snippet_end: str = "**"
    ) -> list[SearchHit]:
        """Return the messages matching every word of `query`, best match first (FTS5 rank).

        Each whitespace-separated word is searched as a quoted phrase, so FTS5
        operators typed by a user (quotes, `*`, `-`, AND, OR, NOT, parentheses)
        are plain text, never syntax. A query without any word returns [].
        The snippet marks each match with `snippet_start` and `snippet_end`.

        A query containing a Chinese, Japanese or Korean character finds
        messages that contain each of its terms (runs of letters and digits)
        as a substring, so 北京 finds 我想去北京旅游. Case is ignored, but in
        terms shorter than 3 characters only for ASCII letters. When every
        term is shorter than 3 characters, the newest matches come first.
        """
        terms = cjk_terms(query)
        if terms is not None:
            return self._search_cjk(terms, limit, snippet_start, snippet_end)

        match = fts_query(query)
        if match is None:
            return []
        rows = self._fetch(
            _("search the messages"), SEARCH_SQL, (snippet_start, snippet_end, match, limit)
        )
        return self._build(hits_from_rows, rows)

    def _search_cjk(self, terms: list[str], limit: int, snippet_start: str, snippet_end: str) -> list[SearchHit]:
        if not terms:
            return []
        sql, parameters = cjk_search_sql(terms, limit)
        rows = self._fetch(_("search the messages"), sql, parameters)
        return self._build(lambda found: cjk_hits_from_rows(found, terms, snippet_start, snippet_end), rows)

    # Export and import

    def export_conversation(self, conversation_id: str, format: ExportFormat) -> str:  # noqa: A002
        """Return the conversation as Markdown (`md`) or as the JSON that `import_conversation` reads."""
        conversation = self.get_conversation(conversation_id)
        messages = self.messages(conversation_id)
        if format == "json":
            return exchange.to_json(conversation, messages)
        if format == "md":
            return exchange.to_markdown(conversation, messages)
        raise StoreError(
            _("Invalid export format {format!r}; use md or json.").format(format=format),
            reason="invalid",
            path=self._path,
        )

    def import_conversation(self, text: str, *, copy: bool = False) -> Conversation:
        """Insert a conversation from the JSON export format and return it.

        The conversation keeps its id, title, times, settings and messages, so
        exporting it again gives the same JSON. If a conversation with that id
        already exists, StoreError(reason="exists") is raised, unless `copy`
        is true: then the import is saved under a new id. A reply exported
        while still `streaming` is imported as `stopped`.
        """
        document = exchange.from_json(text)
        conversation_id = uuid.uuid4().hex if copy else document.conversation_id
        with self._write(_("import the conversation")) as connection:
            existing = connection.execute(
                "SELECT title FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if existing is not None:
                raise StoreError(
                    _("Conversation {id} ({title!r}) already exists. Delete it first, or import "
                      "with --copy to save a second copy under a new id.").format(
                        id=short_id(conversation_id), title=existing[0]
                    ),
                    reason="exists",
                    path=self._path,
                )
            connection.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, model, settings) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    document.title,
                    document.created_at,
                    document.updated_at,
                    document.model,
                    dump_json(document.settings),
                ),
            )
            connection.executemany(
                f"INSERT INTO messages (conversation_id, role, content, created_at, status, {_METADATA_NAMES}) "
                f"VALUES (?, ?, ?, ?, ?, {_METADATA_PLACEHOLDERS})",
                [
                    (
                        conversation_id,
                        message.role,
                        message.content,
                        message.created_at,
                        message.status,
                        *metadata_parameters(message.metadata),
                    )
                    for message in document.messages
                ],
            )
        logger.info("Store: imported conversation %s with %d messages", conversation_id, len(document.messages))
        return self.get_conversation(conversation_id)


def short_id(conversation_id: str) -> str:
    """Return the first characters of an id, as lists show it."""
    return conversation_id[:SHORT_ID_LENGTH]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(
            _("Invalid message role {role!r}; use one of: {roles}.").format(role=role, roles=", ".join(ROLES)),
            reason="invalid",
        )


def _invalid_status(status: str, path: Path) -> StoreError:
    return StoreError(
        _("Invalid message status {status!r}; use one of: {statuses}.").format(
            status=status, statuses=", ".join(ALL_STATUSES)
        ),
        reason="invalid",
        path=path,
    )


def _message_not_found(message_id: int, path: Path) -> StoreError:
    return StoreError(
        _("No message with id {id}. It may have been deleted in another window.").format(id=message_id),
        reason="not_found",
        path=path,
    )
