"""Rows of the store as plain values. No SQLite, Textual or torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MessageRole = Literal["system", "user", "assistant"]
MessageStatus = Literal["complete", "stopped", "error", "streaming"]
"""`streaming` marks a reply being written; after a crash it becomes `stopped`."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """One saved conversation."""

    id: str
    """32 hex digits; commands accept any unique prefix."""
    title: str
    created_at: float
    """Unix time in seconds."""
    updated_at: float
    """Unix time of the last activity: the newest message write or settings change."""
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    """GenerationSettings.to_dict() of the last settings used, system prompt included."""
    message_count: int = 0


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One saved message."""

    id: int
    conversation_id: str
    role: MessageRole
    content: str
    created_at: float
    status: MessageStatus = "complete"
    metadata: dict[str, Any] | None = None
    """ReplyMetadata.to_dict() plus `settings` for assistant replies; None otherwise."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message that matched a full-text search."""

    conversation: Conversation
    message: StoredMessage
    snippet: str
    """Matching text with the match between the markers `snippet_start` and `snippet_end` of the search call."""
