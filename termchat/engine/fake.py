"""A scripted ChatBackend for tests of the other layers. Needs no torch.

Typical use in a TUI test::

    backend = FakeBackend(["Hel", "lo", "!"], gate=True)
    stream = backend.stream(messages, GenerationSettings())
    # ... start the worker that iterates `stream` ...
    backend.release()        # lets exactly one delta through
    backend.release(2)       # lets two more through; the stream then ends with EOS

Without `gate`, every delta is available at once. `fail_at=N` raises
GenerationError instead of returning delta N (0-based), after setting
`stream.reply` with stop reason ERROR and the text of deltas 0 to N-1.
Setting the `cancel` event ends the stream at the next delta with stop reason
CANCELLED, even while it waits for `release`.

`plan()` counts one token per whitespace-separated word plus two per turn for
role markers, and drops the oldest turns like the real backend does, so tests
can reach "turns dropped" and "context used" states with short texts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from termchat.engine.backend import ReplyStream
from termchat.engine.errors import GenerationError
from termchat.engine.prompt import clamp_max_new_tokens, split_conversation
from termchat.engine.settings import GenerationSettings
from termchat.engine.types import ChatMessage, ModelInfo, PromptPlan, Reply, ReplyMetadata, StopReason

DEFAULT_DELTAS = ("Hello", ",", " world", "!")
_MARKER_TOKENS = 2
# The wait for `release` wakes up this often to look at the cancel event,
# because a threading.Event cannot wake a semaphore waiter.
_CANCEL_POLL_SECONDS = 0.005


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """The arguments of one `FakeBackend.stream` call, kept for assertions."""

    messages: tuple[ChatMessage, ...]
    settings: GenerationSettings
    cancel: threading.Event | None


class FakeBackend:
    """ChatBackend that streams scripted deltas, as the module docstring shows.

    `requests` lists the arguments of every `stream()` call. `closed` becomes
    True after `close()`.
    """

    def __init__(
        self,
        deltas: list[str] | None = None,
        *,
        gate: bool = False,
        fail_at: int | None = None,
        context_size: int = 1024,
        model_id: str = "fake",
    ) -> None:
        self.deltas = list(deltas) if deltas is not None else list(DEFAULT_DELTAS)
        self.fail_at = fail_at
        self.info = ModelInfo(
            model_id=model_id,
            backend="fake",
            device="cpu",
            dtype="float32",
            context_size=context_size,
            has_chat_template=False,
        )
        self.requests: list[StreamRequest] = []
        self.closed = False
        self._gate = threading.Semaphore(0) if gate else None

    def release(self, n: int = 1) -> None:
        """Let `n` more deltas through the gate. Only valid with `gate=True`."""
        if self._gate is None:
            raise RuntimeError("FakeBackend.release() needs FakeBackend(gate=True)")
        self._gate.release(n)

    def plan(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> PromptPlan:
        context_size = self.info.context_size
        conversation = split_conversation(messages, settings)
        fixed = _count_tokens(conversation.current)
        if conversation.system is not None:
            fixed += _count_tokens(conversation.system)
        max_new_tokens = clamp_max_new_tokens(settings.max_new_tokens, context_size, fixed)
        budget = context_size - max_new_tokens

        kept = list(conversation.history)
        turns_dropped = 0
        while kept and fixed + sum(_count_tokens(message) for message in kept) > budget:
            kept.pop(0)
            turns_dropped += 1

        return PromptPlan(
            tokens_in=min(budget, fixed + sum(_count_tokens(message) for message in kept)),
            turns_dropped=turns_dropped,
            truncated_current=fixed > budget,
            context_size=context_size,
            max_new_tokens=max_new_tokens,
            requested_max_new_tokens=settings.max_new_tokens,
        )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event | None = None,
    ) -> FakeReplyStream:
        if self.closed:
            raise GenerationError("FakeBackend.stream() called after close(). Create a new FakeBackend.")
        self.requests.append(StreamRequest(tuple(messages), settings, cancel))
        return FakeReplyStream(
            deltas=self.deltas,
            plan=self.plan(messages, settings),
            gate=self._gate,
            fail_at=self.fail_at,
            cancel=cancel if cancel is not None else threading.Event(),
        )

    def close(self) -> None:
        self.closed = True


class FakeReplyStream(ReplyStream):
    """The deltas of one fake reply. Runs in the caller's thread."""

    def __init__(
        self,
        *,
        deltas: list[str],
        plan: PromptPlan,
        gate: threading.Semaphore | None,
        fail_at: int | None,
        cancel: threading.Event,
    ) -> None:
        self.plan = plan
        self.reply = None
        self._deltas = deltas
        self._gate = gate
        self._fail_at = fail_at
        self._cancel = cancel
        self._index = 0
        self._text: list[str] = []
        self._started = time.perf_counter()
        self._first_delta_at: float | None = None

    def __next__(self) -> str:
        if self.reply is not None:
            raise StopIteration

        limit = self.plan.max_new_tokens or self.plan.context_size
        if self._index >= len(self._deltas) or self._index >= limit:
            reason = StopReason.EOS if self._index >= len(self._deltas) else StopReason.LENGTH
            self._finish(reason)
            raise StopIteration

        if not self._wait_for_gate():
            self._finish(StopReason.CANCELLED)
            raise StopIteration

        if self._fail_at is not None and self._index == self._fail_at:
            message = f"Fake generation error at delta {self._index}."
            self._finish(StopReason.ERROR, error=message)
            raise GenerationError(message, reply=self.reply)

        delta = self._deltas[self._index]
        self._index += 1
        self._text.append(delta)
        if self._first_delta_at is None:
            self._first_delta_at = time.perf_counter()
        return delta

    def close(self) -> None:
        if self.reply is None:
            self._finish(StopReason.CANCELLED)

    def _wait_for_gate(self) -> bool:
        """Wait until the next delta may pass. Return False when cancelled first."""
        if self._gate is None:
            return not self._cancel.is_set()
        while not self._cancel.is_set():
            if self._gate.acquire(timeout=_CANCEL_POLL_SECONDS):
                if self._cancel.is_set():
                    # Give the token back so a later stream can use it.
                    self._gate.release()
                    return False
                return True
        return False

    def _finish(self, reason: StopReason, error: str | None = None) -> None:
        # A fake delta is one token, so the first delta is also the first token.
        metadata = ReplyMetadata.from_timings(
            self.plan,
            tokens_out=self._index,
            started=self._started,
            first_delta=self._first_delta_at,
            first_token=self._first_delta_at,
            last_token=time.perf_counter(),
            stop_reason=reason,
            error=error,
        )
        self.reply = Reply(text="".join(self._text), metadata=metadata)


def _count_tokens(message: ChatMessage) -> int:
    return len(message.content.split()) + _MARKER_TOKENS
