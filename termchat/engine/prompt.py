"""Prompt format and context trimming, in one place.

Two formats exist. A tokenizer with a chat template formats the turns itself.
A base model such as GPT-2 has no template, so the turns are joined into one
text with the role markers below, ending with the assistant marker. Generation
then stops at EOS or when the model starts the next user turn.

Trimming, when prompt + max_new_tokens exceed the context window:
1. max_new_tokens >= context size is clamped so the prompt keeps room.
2. The oldest user and assistant turns are dropped, one at a time. The system
   prompt and the current user message are never dropped.
3. If the system prompt and current message alone are still too long, the
   current message keeps only its end.
4. As a last resort (a system prompt longer than the context), the prompt
   keeps its last tokens, so the assistant marker always ends it.

Nothing here imports torch or transformers: the tokenizer is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from termchat.engine.errors import GenerationError
from termchat.engine.settings import GenerationSettings
from termchat.engine.types import ChatMessage, PromptPlan
from termchat.i18n import _

# Role markers for models without a chat template. Each turn is
# "<marker><text>\n\n"; the prompt ends with the bare assistant marker.
ROLE_MARKERS = {
    "system": "System: ",
    "user": "User: ",
    "assistant": "Assistant: ",
}
TURN_SEPARATOR = "\n\n"
# Text that starts the next turn; generation stops when the reply contains one
# of these, and the reply is cut before it.
STOP_MARKERS = tuple(TURN_SEPARATOR + ROLE_MARKERS[role].rstrip() for role in ("user", "system", "assistant"))


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation split the way trimming treats it."""

    system: ChatMessage | None
    """The system turn: the settings' system prompt, or else the first system message."""
    history: tuple[ChatMessage, ...]
    """Earlier user and assistant turns, oldest first; these may be dropped."""
    current: ChatMessage
    """The last turn, normally the user's new message; never dropped."""


def split_conversation(messages: Sequence[ChatMessage], settings: GenerationSettings) -> Conversation:
    """Split `messages` into system turn, droppable history and current message.

    `settings.system_prompt`, when not empty, replaces system messages in
    `messages`. Raises GenerationError when there is no user or assistant turn.
    """
    system_messages = [message for message in messages if message.role == "system"]
    turns = [message for message in messages if message.role != "system"]
    if not turns:
        raise GenerationError(_("The conversation has no user message; type a message first."))

    if settings.system_prompt:
        system: ChatMessage | None = ChatMessage("system", settings.system_prompt)
    elif system_messages and system_messages[0].content:
        system = system_messages[0]
    else:
        system = None
    return Conversation(system=system, history=tuple(turns[:-1]), current=turns[-1])


def clamp_max_new_tokens(requested: int, context_size: int, fixed_prompt_tokens: int) -> int:
    """Return the max_new_tokens to generate with, leaving room for the prompt.

    A request below the context size is kept: trimming makes the prompt fit.
    A larger one is lowered so that the fixed part of the prompt (system turn,
    current message and markers) keeps its room, but the prompt never takes
    more than half of the context.
    """
    if requested < context_size:
        return requested
    reserved = max(1, min(fixed_prompt_tokens, context_size // 2))
    return max(1, context_size - reserved)
