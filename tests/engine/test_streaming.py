"""Incremental decoding and stop-marker filtering of streamed text."""

from __future__ import annotations

import random

import pytest

from termchat.engine.prompt import STOP_MARKERS
from termchat.engine.streaming import IncrementalDecoder, ReplyTextFilter, decode_ids, finalize_reply_text

MULTIBYTE_TEXTS = ["你好，世界", "emoji 😀🎉 and 👩‍💻", "mixed 中文 text 🚀 end", "Ünïcödé ✓"]


@pytest.fixture(scope="module")
def tokenizer(tiny_gpt2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_gpt2_dir)


def stream_filtered(chunks, markers=STOP_MARKERS):
    text_filter = ReplyTextFilter(markers)
    deltas = [text_filter.feed(chunk) for chunk in chunks]
    deltas.append(text_filter.finish())
    return deltas, text_filter


@pytest.mark.parametrize("text", MULTIBYTE_TEXTS)
def test_decoder_never_emits_replacement(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert len(ids) > len(text.split()), "the text should split characters across tokens"
    decoder = IncrementalDecoder(tokenizer)

    deltas = [decoder.add([token]) for token in ids]
    deltas.append(decoder.flush())

    assert all("\ufffd" not in delta for delta in deltas)
    assert "".join(deltas) == text


def test_decoder_flush_keeps_incomplete_character(tokenizer):
    ids = tokenizer("😀")["input_ids"]
    decoder = IncrementalDecoder(tokenizer)

    assert decoder.add(ids[:-1]) == ""
    assert decoder.flush() == decode_ids(tokenizer, ids[:-1])


def test_filter_cuts_at_user_marker():
    deltas, text_filter = stream_filtered([" Paris", " is", " nice", ".\n", "\n", "User", ":", " more"])

    assert "".join(deltas) == "Paris is nice."
    assert text_filter.marker_found


def test_filter_never_emits_marker_start():
    chunks = [" A", "\n", "Us", "er", ": x"]
    text_filter = ReplyTextFilter(STOP_MARKERS)

    emitted = [text_filter.feed(chunk) for chunk in chunks]

    assert emitted == ["A", "", "", "", ""]
    assert text_filter.marker_found


def test_filter_releases_false_marker_start():
    deltas, text_filter = stream_filtered([" A", "\n", "Us", "ually", " yes"])

    assert "".join(deltas) == "A\nUsually yes"
    assert not text_filter.marker_found


def test_filter_drops_partial_marker_at_end():
    deltas, _text_filter = stream_filtered([" A", "\nUs"])

    assert "".join(deltas) == "A"


def test_filter_without_markers_trims_whitespace():
    deltas, _text_filter = stream_filtered(["  ", " Hi", "\n", " there ", "\n\n"], markers=())

    assert "".join(deltas) == "Hi\n there"


@pytest.mark.parametrize("seed", range(20))
def test_filter_matches_one_shot_for_any_chunking(seed):
    rng = random.Random(seed)
    pieces = [" Hi", "\n", "\n", "User", ":", " x", "Us", "ually", " ", "Assistant", "\nAss", "ist", "ant:", "你", "😀"]
    text = "".join(rng.choice(pieces) for _ in range(12))
    cuts = sorted(rng.sample(range(1, len(text)), k=min(6, len(text) - 1)))
    chunks = [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    deltas, _text_filter = stream_filtered(chunks)

    assert "".join(deltas) == finalize_reply_text(text, STOP_MARKERS)
