"""Prompt format and context trimming, in one place.

Two formats exist. A tokenizer with a chat template formats the turns itself.
A base model such as GPT-2 has no template, so the turns are joined into one
text with the role markers below, ending with the assistant marker. Generation
then stops at EOS or when the model starts the next user turn.

A tokenizer that drops newlines (BERT's WordPiece, used by some Chinese GPT-2
models) cannot carry the newline that starts each marker. Its turns get
markers that survive the tokenizer, such as "用户：", and are separated by the
tokenizer's [SEP] token; see `SeparatorFormat`.

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

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from termchat.engine.errors import GenerationError
from termchat.engine.settings import GenerationSettings
from termchat.engine.tokenizer_traits import TokenizerTraits, detect_tokenizer_traits, remove_inserted_spaces
from termchat.engine.types import ChatMessage, PromptPlan
from termchat.i18n import _

logger = logging.getLogger(__name__)

# Role markers for models without a chat template. Each turn is
# "<marker><text>\n\n"; the prompt ends with the bare assistant marker.
ROLE_MARKERS = {
    "system": "System: ",
    "user": "User: ",
    "assistant": "Assistant: ",
}
TURN_SEPARATOR = "\n\n"
# Text that starts another turn. Generation stops when the reply contains one
# of these, and the reply is cut before it. One newline is enough, because
# base models often end a turn with a single newline.
STOP_MARKERS = tuple("\n" + ROLE_MARKERS[role].rstrip() for role in ("user", "system", "assistant"))

# Role markers for tokenizers that drop newlines, first choice first. The
# Chinese names suit the Chinese GPT-2 models that use such tokenizers. The
# lower-case English names are for a vocabulary without CJK characters,
# because BERT's uncased tokenizer lower-cases "User:".
SEPARATOR_ROLE_MARKERS = (
    {"system": "系统：", "user": "用户：", "assistant": "助手："},
    {"system": "system:", "user": "user:", "assistant": "assistant:"},
)
# NOTE: without a newline in front, a marker cannot be distinguished from the
# same text inside a turn, so a reply that itself writes "用户：" is cut there.


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


@dataclass(frozen=True, slots=True)
class BuiltPrompt:
    """Token ids ready for `generate`, with the plan that produced them."""

    input_ids: list[int]
    plan: PromptPlan
    stop_markers: tuple[str, ...]
    """Texts that end the reply; empty when the chat template marks turns with EOS."""


class Tokenizer(Protocol):
    """The part of a transformers tokenizer that prompt building uses."""

    chat_template: Any

    def __call__(self, text: str, add_special_tokens: bool = ...) -> Any: ...

    def decode(self, ids: Sequence[int], **kwargs: Any) -> str: ...

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


def format_marker_prompt(turns: Sequence[ChatMessage]) -> str:
    """Join `turns` with role markers and end with the assistant marker.

    The marker has no trailing space because byte-level BPE tokenizers such as
    GPT-2's put the space before a word into the word's token.
    """
    parts = [ROLE_MARKERS[turn.role] + turn.content + TURN_SEPARATOR for turn in turns]
    parts.append(ROLE_MARKERS["assistant"].rstrip())
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class SeparatorFormat:
    """Role markers and separator ids for a tokenizer that drops newlines.

    In tokens, a prompt reads "[CLS]用户：你好[SEP]助手：": the ids the
    tokenizer puts before any text, each turn as marker and text followed by
    the separator id, then the bare assistant marker. Nothing follows the
    assistant marker, so the model continues the assistant turn. Without a
    separator token the markers alone divide the turns.
    """

    role_markers: dict[str, str]
    separator_ids: tuple[int, ...]
    leading_ids: tuple[int, ...]

    @property
    def stop_markers(self) -> tuple[str, ...]:
        """Marker texts that end a reply when the model writes one without a separator first."""
        return tuple(self.role_markers[role] for role in ("user", "system", "assistant"))

    def encode(self, tokenizer: Tokenizer, turns: Sequence[ChatMessage]) -> list[int]:
        """Return the prompt ids for `turns`, ending with the assistant marker."""
        ids = list(self.leading_ids)
        for turn in turns:
            ids += _encode_plain(tokenizer, self.role_markers[turn.role] + turn.content)
            ids += self.separator_ids
        ids += _encode_plain(tokenizer, self.role_markers["assistant"])
        return ids


def choose_separator_format(tokenizer: Tokenizer, traits: TokenizerTraits) -> SeparatorFormat:
    """Return a SeparatorFormat whose markers decode back to the same text.

    The first set in SEPARATOR_ROLE_MARKERS that survives encoding and
    decoding is used. If none does, the first set is used anyway and a
    warning is logged, because replies then end only at EOS or max_new_tokens.
    """
    chosen = SEPARATOR_ROLE_MARKERS[0]
    for markers in SEPARATOR_ROLE_MARKERS:
        if all(_survives_round_trip(tokenizer, traits, marker) for marker in markers.values()):
            chosen = markers
            break
    else:
        logger.warning(
            "no role marker set survives encoding and decoding, so replies end only at EOS or max_new_tokens"
        )
    separator_ids = () if traits.separator_id is None else (traits.separator_id,)
    return SeparatorFormat(role_markers=chosen, separator_ids=separator_ids, leading_ids=traits.leading_special_ids)


def _survives_round_trip(tokenizer: Tokenizer, traits: TokenizerTraits, text: str) -> bool:
    ids = _encode_plain(tokenizer, text)
    decoded = tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    if traits.inserts_spaces:
        decoded = remove_inserted_spaces(decoded)
    return decoded == text


def _encode_plain(tokenizer: Tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _strip_suffix(ids: list[int], suffix: Sequence[int]) -> list[int]:
    if suffix and len(ids) >= len(suffix) and ids[-len(suffix) :] == list(suffix):
        return ids[: -len(suffix)]
    return ids


class PromptBuilder:
    """Turn a conversation into token ids that fit the model's context window."""

    def __init__(self, tokenizer: Tokenizer, context_size: int, traits: TokenizerTraits | None = None) -> None:
        self.tokenizer = tokenizer
        self.context_size = context_size
        self.uses_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.traits = traits if traits is not None else detect_tokenizer_traits(tokenizer)
        self.separator_format: SeparatorFormat | None = None
        if not self.uses_chat_template and self.traits.drops_newlines:
            self.separator_format = choose_separator_format(tokenizer, self.traits)

    @property
    def stop_markers(self) -> tuple[str, ...]:
        """Texts that end a reply; empty when the chat template marks turns with EOS."""
        if self.uses_chat_template:
            return ()
        if self.separator_format is not None:
            return self.separator_format.stop_markers
        return STOP_MARKERS

    def build(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> BuiltPrompt:
        """Format, tokenize and trim `messages`; see the module docstring for the order."""
        conversation = split_conversation(messages, settings)
        system = conversation.system
        current = conversation.current

        fixed_ids = self._encode_turns(system, [], current)
        max_new_tokens = clamp_max_new_tokens(settings.max_new_tokens, self.context_size, len(fixed_ids))
        budget = self.context_size - max_new_tokens

        history = list(conversation.history)
        turns_dropped = self._count_turns_to_drop(system, history, current, budget)
        history = history[turns_dropped:]
        ids = self._encode_turns(system, history, current)

        truncated_current = False
        if len(ids) > budget:
            ids = self._truncate_current(system, current, budget)
            truncated_current = True

        plan = PromptPlan(
            tokens_in=len(ids),
            turns_dropped=turns_dropped,
            truncated_current=truncated_current,
            context_size=self.context_size,
            max_new_tokens=max_new_tokens,
            requested_max_new_tokens=settings.max_new_tokens,
        )
        return BuiltPrompt(input_ids=ids, plan=plan, stop_markers=self.stop_markers)

    def _count_turns_to_drop(
        self, system: ChatMessage | None, history: list[ChatMessage], current: ChatMessage, budget: int
    ) -> int:
        """Return the fewest oldest turns to drop so the prompt fits `budget`.

        Binary search: the prompt only gets shorter as turns are dropped, and a
        40-turn history then needs about six tokenizer calls. The kept history
        starts with a user turn, because some chat templates require
        alternating roles.
        """
        low, high = 0, len(history)
        while low < high:
            middle = (low + high) // 2
            if len(self._encode_turns(system, history[middle:], current)) <= budget:
                high = middle
            else:
                low = middle + 1
        while low < len(history) and history[low].role != "user":
            low += 1
        return low

    def _truncate_current(self, system: ChatMessage | None, current: ChatMessage, budget: int) -> list[int]:
        """Keep the end of the current message so the prompt fits `budget` tokens."""
        overhead = len(self._encode_turns(system, [], ChatMessage(current.role, "")))
        content_ids = self.tokenizer(current.content, add_special_tokens=False)["input_ids"]
        keep = budget - overhead
        ids: list[int] = []
        # Decoding and encoding again can change the token count at the cut, so
        # the loop shrinks `keep` until the prompt fits. Two or three passes are typical.
        for _attempt in range(8):
            if keep <= 0:
                break
            text = self.tokenizer.decode(content_ids[-keep:], skip_special_tokens=True)
            # A cut inside a multi-byte character decodes to U+FFFD.
            text = text.lstrip("\ufffd")
            ids = self._encode_turns(system, [], ChatMessage(current.role, text))
            if len(ids) <= budget:
                return ids
            keep -= len(ids) - budget
        # The system prompt alone is longer than the budget. The last tokens are
        # kept, so the prompt still ends with the assistant marker.
        if not ids:
            ids = self._encode_turns(system, [], current)
        return ids[-budget:]

    def _encode_turns(
        self, system: ChatMessage | None, history: Sequence[ChatMessage], current: ChatMessage
    ) -> list[int]:
        turns = ([system] if system is not None else []) + list(history) + [current]
        if self.separator_format is not None:
            return self.separator_format.encode(self.tokenizer, turns)
        if not self.uses_chat_template:
            ids = list(self.tokenizer(format_marker_prompt(turns), add_special_tokens=True)["input_ids"])
            # A token appended after the text, such as BERT's [SEP], would end
            # the segment right where the model should continue the reply.
            return _strip_suffix(ids, self.traits.trailing_special_ids)

        text = self._render_template(turns)
        # The template writes any BOS token itself.
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _render_template(self, turns: list[ChatMessage]) -> str:
        conversation = [{"role": turn.role, "content": turn.content} for turn in turns]
        try:
            return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        except Exception as error:
            if turns[0].role != "system" or len(turns) < 2:
                raise GenerationError(
                    _("The model's chat template failed: {error}").format(error=str(error).splitlines()[0])
                ) from error
        # Some templates (Gemma's, for one) reject a system turn, so its text
        # goes in front of the first user message instead.
        merged = [ChatMessage(turns[1].role, turns[0].content + "\n\n" + turns[1].content), *turns[2:]]
        return self._render_template(merged)
