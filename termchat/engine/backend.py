"""The interface every generation backend implements.

A backend takes a conversation and settings and returns a `ReplyStream`:
an iterator of text deltas whose `reply` is set once iteration ends. The
transformers backend is the first; llama.cpp and OpenAI-compatible servers
fit the same shape, because nothing here mentions tokens or tensors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from termchat.engine.settings import GenerationSettings
from termchat.engine.types import ChatMessage, LoadProgress, ModelInfo, PromptPlan, Reply

Device = Literal["auto", "cpu", "cuda", "mps"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
ProgressCallback = Callable[[LoadProgress], None]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """The model to load and its placement: the values of `--model`, `--device`, `--dtype`."""

    model: str = "gpt2"
    """A Hub id, a local model folder, or a `.gguf` file."""
    device: Device = "auto"
    dtype: DType = "auto"
    trust_remote_code: bool = False
    """Run Python code shipped with a Hub model; off unless the user passes the flag."""


class ReplyStream(Iterator[str]):
    """Text deltas of one reply, in order.

    `plan` is known before the first delta. `reply` is None until iteration
    has ended, then contains the whole text and its metadata. A reply that was
    cancelled ends normally with stop reason CANCELLED. An error inside the
    backend is raised from `__next__` as an EngineError, after `reply` has
    been set with stop reason ERROR and the text produced so far.
    """

    plan: PromptPlan
    reply: Reply | None

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Stop generation and release the worker thread; safe to call twice."""


class ChatBackend(Protocol):
    """A loaded model that can stream replies."""

    info: ModelInfo

    def stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event | None = None,
    ) -> ReplyStream:
        """Start a reply to `messages`, the last of which is the user's turn.

        `settings.system_prompt`, when not empty, is placed first; a system
        message in `messages` is used only when the setting is empty.
        Setting `cancel` stops generation within one token.
        """
        ...

    def plan(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> PromptPlan:
        """Return how `messages` would be trimmed, without generating."""
        ...

    def close(self) -> None:
        """Free the model's memory."""
        ...
