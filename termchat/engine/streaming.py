"""Turn generated token ids into clean text deltas.

Two stages run on every new token:
- `IncrementalDecoder` decodes the ids so far and holds back a trailing
  U+FFFD, which is a multi-byte character whose bytes are split across
  byte-level tokens and not all generated yet. For a tokenizer that puts
  spaces between all tokens (BERT's WordPiece), it also removes the spaces
  next to CJK characters and punctuation, so markers and the reply are
  matched and shown as the text reads.
- `ReplyTextFilter` drops leading whitespace, cuts the reply at a stop marker
  and holds back trailing whitespace and any tail that could be the start of a
  marker, so a marker never reaches a delta.

The concatenated deltas equal `finalize_reply_text(decode(all ids))`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from termchat.engine.tokenizer_traits import remove_inserted_spaces

logger = logging.getLogger(__name__)

REPLACEMENT_CHARACTER = "\ufffd"


def decode_ids(tokenizer: Any, ids: Sequence[int], remove_spaces: bool = False) -> str:
    """Decode reply ids the same way for the stream and for one-shot decoding.

    With `remove_spaces`, the spaces a WordPiece decoder inserts between
    tokens are removed as `remove_inserted_spaces` describes.
    """
    text = tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return remove_inserted_spaces(text) if remove_spaces else text


class IncrementalDecoder:
    """Decode a growing list of token ids into text that never changes once returned."""

    def __init__(self, tokenizer: Any, remove_spaces: bool = False) -> None:
        self.tokenizer = tokenizer
        self.remove_spaces = remove_spaces
        self.ids: list[int] = []
        self._emitted = ""

    def add(self, new_ids: Sequence[int]) -> str:
        """Append `new_ids`; return the newly complete text."""
        self.ids.extend(new_ids)
        text = decode_ids(self.tokenizer, self.ids, self.remove_spaces).rstrip(REPLACEMENT_CHARACTER)
        return self._take(text)

    def flush(self) -> str:
        """Return what is still held back, including an incomplete character as U+FFFD."""
        return self._take(decode_ids(self.tokenizer, self.ids, self.remove_spaces))

    def _take(self, text: str) -> str:
        if not text.startswith(self._emitted):
            # NOTE: byte-level and SentencePiece decoders only append text. A
            # decoder that rewrites earlier text breaks the equality of the
            # deltas with a one-shot decode, and this case is only logged.
            logger.warning("decoded text changed before position %d; the stream may differ", len(self._emitted))
        new = text[len(self._emitted):]
        self._emitted += new
        return new


class ReplyTextFilter:
    """Cut a streamed reply at the first stop marker and trim its whitespace."""

    def __init__(self, stop_markers: Sequence[str]) -> None:
        self.stop_markers = tuple(stop_markers)
        self.marker_found = False
        self._started = False
        self._pending = ""

    def feed(self, text: str) -> str:
        """Add decoded text; return the part that is safe to show now."""
        if self.marker_found or not text:
            return ""
        buffer = self._pending + text
        if not self._started:
            buffer = buffer.lstrip()
            if not buffer:
                return ""
            self._started = True

        cut = _find_marker(buffer, self.stop_markers)
        if cut is not None:
            self.marker_found = True
            self._pending = ""
            return buffer[:cut].rstrip()

        split = len(buffer) - _partial_marker_length(buffer, self.stop_markers)
        while split > 0 and buffer[split - 1].isspace():
            split -= 1
        self._pending = buffer[split:]
        return buffer[:split]

    def finish(self) -> str:
        """Return the held-back text that belongs to the reply at its end.

        Trailing whitespace and a partial stop marker (text cut by the
        max_new_tokens limit right inside a marker) are dropped.
        """
        if self.marker_found:
            return ""
        tail = self._pending
        self._pending = ""
        return _strip_partial_marker(tail, self.stop_markers).rstrip()


def finalize_reply_text(text: str, stop_markers: Sequence[str]) -> str:
    """Apply the reply rules to a whole decoded text at once."""
    text = text.lstrip()
    positions = [text.find(marker) for marker in stop_markers if marker in text]
    if positions:
        return text[: min(positions)].rstrip()
    return _strip_partial_marker(text, stop_markers).rstrip()


def _find_marker(text: str, markers: Sequence[str]) -> int | None:
    positions = [text.find(marker) for marker in markers if marker in text]
    return min(positions) if positions else None


def _partial_marker_length(text: str, markers: Sequence[str]) -> int:
    """Return the length of the longest end of `text` that starts some marker."""
    longest = 0
    for marker in markers:
        for length in range(min(len(marker) - 1, len(text)), 0, -1):
            if text.endswith(marker[:length]):
                longest = max(longest, length)
                break
    return longest


def _strip_partial_marker(text: str, markers: Sequence[str]) -> str:
    length = _partial_marker_length(text, markers)
    return text[: len(text) - length] if length else text
