"""ConversationRecorder: the write path of a live chat, which keeps unsaved text in memory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from termchat.store.database import FINAL_STATUSES, Store
from termchat.store.errors import StoreError
from termchat.store.models import StoredMessage
from termchat.store.rows import split_metadata

logger = logging.getLogger(__name__)

SAVE_INTERVAL_SECONDS = 1.0
"""Minimum seconds between two writes of a streaming reply's partial text."""


@dataclass(slots=True)
class _Entry:
    """One message of this session and how much of it the database has."""

    role: str
    content: str
    status: str
    metadata: dict[str, Any] | None = None
    message_id: int | None = None
    """Row id once the message is inserted, or None while the insert is pending."""
    saved_content: str | None = None
    saved_status: str | None = None
    stored: StoredMessage | None = field(default=None, repr=False)

    @property
    def saved(self) -> bool:
        return self.message_id is not None and self.saved_content == self.content and self.saved_status == self.status


class ConversationRecorder:
    """Save a live conversation to the store without ever raising a store fault into the UI.

    Every message of the session is kept in memory until the database has
    it. Writes that fail because the disk is full or the database stays
    locked past the busy timeout set `last_error`, leave the text pending,
    and are retried, in order, on the next write or on `flush()`. Other
    StoreErrors (such as a conversation deleted from another window) are
    reported the same way, because a chat must go on either way.

    A streaming reply is written when it starts, then at most once per
    `save_interval` seconds while text arrives, then once when it finishes.
    `clock` returns seconds from a monotonic clock; tests pass their own.
    The recorder is not thread-safe: call it from one thread.
    """

    def __init__(
        self,
        store: Store,
        conversation_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        save_interval: float = SAVE_INTERVAL_SECONDS,
    ) -> None:
        self._store = store
        self._conversation_id = conversation_id
        self._clock = clock
        self._save_interval = save_interval
        self._entries: list[_Entry] = []
        self._reply: _Entry | None = None
        self._last_attempt = float("-inf")
        self._last_error: StoreError | None = None

    @property
    def conversation_id(self) -> str:
        return self._conversation_id

    @property
    def pending(self) -> bool:
        """True while some text of this session is not in the database yet."""
        return any(not entry.saved for entry in self._entries)

    @property
    def last_error(self) -> StoreError | None:
        """The error of the last failed write, or None once everything is saved."""
        return self._last_error

    @property
    def reply_text(self) -> str:
        """Text of the open reply so far, or "" when no reply is open."""
        return self._reply.content if self._reply is not None else ""

    def add_user_message(self, text: str) -> StoredMessage | None:
        """Save the user's message now, before generation starts.

        Returns the stored message, or None when the write failed; the text
        is then kept in memory and `last_error` describes the failure.
        """
        entry = _Entry(role="user", content=text, status="complete")
        self._entries.append(entry)
        self.flush()
        return entry.stored

    def start_reply(self) -> None:
        """Open an assistant reply and save it as an empty `streaming` row."""
        if self._reply is not None:
            raise RuntimeError("start_reply() called while a reply is still open; call finish_reply() first")
        self._reply = _Entry(role="assistant", content="", status="streaming")
        self._entries.append(self._reply)
        self.flush()

    def append_reply(self, delta: str) -> None:
        """Add streamed text to the open reply, and save it if `save_interval` has passed since the last write."""
        if self._reply is None:
            raise RuntimeError("append_reply() called without start_reply()")
        self._reply.content += delta
        if self._clock() - self._last_attempt >= self._save_interval:
            self.flush()

    def finish_reply(
        self, text: str, status: str = "complete", metadata: dict[str, Any] | None = None
    ) -> StoredMessage | None:
        """Close the open reply with its final text, status and metadata, and save it now.

        `status` is `complete`, `stopped` or `error`. Returns the stored
        reply, or None when the write failed and the reply is pending.
        """
        if self._reply is None:
            raise RuntimeError("finish_reply() called without start_reply()")
        if status not in FINAL_STATUSES:
            raise ValueError(f"invalid reply status {status!r}; expected one of {', '.join(FINAL_STATUSES)}")
        # Invalid metadata is a caller's bug, not a disk fault: raise it now instead of keeping it pending.
        split_metadata(metadata)
        reply = self._reply
        reply.content = text
        reply.status = status
        reply.metadata = metadata
        self._reply = None
        self.flush()
        return reply.stored if reply.saved else None

    def flush(self) -> bool:
        """Write everything pending, oldest first, and return True when nothing is pending afterwards.

        Stops at the first failure, so a reply is never saved before the user
        message that it replies to.
        """
        self._last_attempt = self._clock()
        for entry in self._entries:
            if entry.saved:
                continue
            try:
                self._write(entry)
            except StoreError as error:
                if self._last_error is None or str(self._last_error) != str(error):
                    logger.warning(
                        "Recorder: could not save a %s message of conversation %s, kept in memory: %s",
                        entry.role,
                        self._conversation_id,
                        error,
                    )
                self._last_error = error
                return False
        if self._last_error is not None:
            logger.info("Recorder: saved the pending messages of conversation %s", self._conversation_id)
        self._last_error = None
        # Finished, saved messages need no memory copy any more.
        self._entries = [entry for entry in self._entries if not entry.saved or entry is self._reply]
        return True

    def _write(self, entry: _Entry) -> None:
        content, status = entry.content, entry.status
        if entry.message_id is None:
            stored = self._store.add_message(
                self._conversation_id, entry.role, content, status=status, metadata=entry.metadata
            )
            entry.message_id = stored.id
        elif status == "streaming":
            self._store.update_reply(entry.message_id, content)
            stored = None
        else:
            stored = self._store.finish_reply(entry.message_id, content, status, entry.metadata)
        entry.saved_content = content
        entry.saved_status = status
        if stored is not None:
            entry.stored = stored
