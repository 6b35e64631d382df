"""Backend-neutral values passed between the engine and its callers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation as the engine sees it."""

    role: Role
    content: str


class StopReason(StrEnum):
    """The reason a reply ended."""

    EOS = "eos"
    TURN_MARKER = "turn_marker"
    LENGTH = "length"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class PromptPlan:
    """The prompt actually sent, after trimming the history to fit the context."""

    tokens_in: int
    """Tokens in the prompt, including role markers."""
    turns_dropped: int
    """Oldest user or assistant turns left out to fit the context window."""
    truncated_current: bool
    """True when the current user message alone was too long and only its end was kept."""
    context_size: int
    """Positions the model can attend to (1024 for GPT-2)."""
    max_new_tokens: int | None = None
    """Tokens the reply may add. Lower than the settings' value only when that value
    did not fit the context (see `max_new_tokens_clamped`); None when the backend does not say."""
    requested_max_new_tokens: int | None = None
    """The settings' max_new_tokens before clamping; None when the backend does not say."""

    @property
    def max_new_tokens_clamped(self) -> bool:
        """True when max_new_tokens was lowered to leave room for the prompt."""
        if self.max_new_tokens is None or self.requested_max_new_tokens is None:
            return False
        return self.max_new_tokens < self.requested_max_new_tokens


@dataclass(frozen=True, slots=True)
class ReplyMetadata:
    """Measurements of one reply."""

    tokens_in: int
    tokens_out: int
    time_to_first_token: float | None
    """Seconds from the start of generation to the first text delta; None if no text came."""
    tokens_per_second: float | None
    """New tokens divided by the decode time after the first token; None below two tokens."""
    stop_reason: StopReason
    turns_dropped: int
    context_size: int
    error: str | None = None
    """One-line error message when `stop_reason` is ERROR."""

    @classmethod
    def from_timings(
        cls,
        plan: PromptPlan,
        *,
        tokens_out: int,
        started: float,
        first_delta: float | None,
        first_token: float | None,
        last_token: float | None,
        stop_reason: StopReason,
        error: str | None = None,
    ) -> ReplyMetadata:
        """Build the measurements of a reply from its `time.perf_counter()` readings.

        `first_delta` is when the first text came out, which the time to first
        token is measured to. The rate counts the tokens after the first one
        over the time from the first token to the last.
        """
        tokens_per_second = None
        if first_token is not None and last_token is not None and tokens_out >= 2 and last_token > first_token:
            tokens_per_second = (tokens_out - 1) / (last_token - first_token)
        return cls(
            tokens_in=plan.tokens_in,
            tokens_out=tokens_out,
            time_to_first_token=first_delta - started if first_delta is not None else None,
            tokens_per_second=tokens_per_second,
            stop_reason=stop_reason,
            turns_dropped=plan.turns_dropped,
            context_size=plan.context_size,
            error=error,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "time_to_first_token": self.time_to_first_token,
            "tokens_per_second": self.tokens_per_second,
            "stop_reason": str(self.stop_reason),
            "turns_dropped": self.turns_dropped,
            "context_size": self.context_size,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Reply:
    """The full text of a finished reply and its metadata."""

    text: str
    metadata: ReplyMetadata

    @property
    def stopped(self) -> bool:
        return self.metadata.stop_reason is StopReason.CANCELLED

    @property
    def status(self) -> Literal["complete", "stopped", "error"]:
        """The message status a store records for this reply."""
        if self.metadata.stop_reason is StopReason.CANCELLED:
            return "stopped"
        if self.metadata.stop_reason is StopReason.ERROR:
            return "error"
        return "complete"


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """One progress report while a model loads, for a progress bar."""

    stage: Literal["download", "load"]
    description: str
    """A short translated line for the status bar, such as 'Loading weights'."""
    completed: float
    total: float | None
    """None when the total is not known yet; the bar then pulses."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Facts about a loaded model, shown in the status bar."""

    model_id: str
    backend: str
    device: str
    dtype: str
    context_size: int
    has_chat_template: bool
