"""FakeBackend, the scripted backend other layers test against."""

from __future__ import annotations

import threading

import pytest

from termchat.engine import ChatMessage, GenerationError, GenerationSettings, StopReason
from termchat.engine.fake import FakeBackend

MESSAGES = [ChatMessage("user", "hi")]


def test_fake_streams_all_deltas():
    backend = FakeBackend(["a", "b", "c"])
    stream = backend.stream(MESSAGES, GenerationSettings())

    assert list(stream) == ["a", "b", "c"]
    assert stream.reply is not None
    assert stream.reply.text == "abc"
    assert stream.reply.metadata.stop_reason is StopReason.EOS
    assert stream.reply.metadata.tokens_out == 3


def test_fake_records_requests():
    backend = FakeBackend()
    settings = GenerationSettings(temperature=0)
    list(backend.stream(MESSAGES, settings))

    assert len(backend.requests) == 1
    assert backend.requests[0].messages == tuple(MESSAGES)
    assert backend.requests[0].settings == settings


def test_fake_gate_releases_one_delta_at_a_time():
    backend = FakeBackend(["a", "b"], gate=True)
    stream = backend.stream(MESSAGES, GenerationSettings())
    received: list[str] = []
    got_one = threading.Event()

    def consume() -> None:
        for delta in stream:
            received.append(delta)
            got_one.set()

    worker = threading.Thread(target=consume)
    worker.start()
    backend.release()
    assert got_one.wait(5)
    assert received == ["a"]

    backend.release()
    worker.join(5)
    assert not worker.is_alive()
    assert received == ["a", "b"]


def test_fake_cancel_while_gated():
    backend = FakeBackend(["a", "b"], gate=True)
    cancel = threading.Event()
    stream = backend.stream(MESSAGES, GenerationSettings(), cancel)
    worker = threading.Thread(target=lambda: list(stream))
    worker.start()

    cancel.set()
    worker.join(5)

    assert not worker.is_alive()
    assert stream.reply is not None
    assert stream.reply.metadata.stop_reason is StopReason.CANCELLED
    assert stream.reply.stopped


def test_fake_fail_at_raises_with_partial_reply():
    backend = FakeBackend(["a", "b", "c"], fail_at=2)
    stream = backend.stream(MESSAGES, GenerationSettings())

    assert next(stream) == "a"
    assert next(stream) == "b"
    with pytest.raises(GenerationError):
        next(stream)
    assert stream.reply is not None
    assert stream.reply.text == "ab"
    assert stream.reply.metadata.stop_reason is StopReason.ERROR
    assert stream.reply.metadata.error


def test_fake_max_new_tokens_stops_with_length():
    backend = FakeBackend(["a", "b", "c"])
    stream = backend.stream(MESSAGES, GenerationSettings(max_new_tokens=2))

    assert list(stream) == ["a", "b"]
    assert stream.reply.metadata.stop_reason is StopReason.LENGTH


def test_fake_plan_drops_oldest_turns():
    backend = FakeBackend(context_size=40)
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", "one two three") for i in range(10)]
    plan = backend.plan([*history, ChatMessage("user", "now")], GenerationSettings(max_new_tokens=20))

    assert plan.turns_dropped > 0
    assert plan.tokens_in <= 40 - 20
    assert not plan.truncated_current


def test_fake_plan_clamps_max_new_tokens():
    backend = FakeBackend(context_size=64)
    plan = backend.plan(MESSAGES, GenerationSettings(max_new_tokens=500))

    assert plan.max_new_tokens is not None
    assert plan.max_new_tokens < 64
    assert plan.max_new_tokens_clamped
