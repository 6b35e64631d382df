"""Tests of ThreadedReply, the bridge between a reply thread and the event loop."""

from __future__ import annotations

import time

import pytest

from termchat.engine import ChatMessage, GenerationSettings
from termchat.engine.fake import FakeBackend
from termchat.tui.worker import ThreadedReply

pytestmark = pytest.mark.anyio


async def test_pause_ends_when_reply_ends() -> None:
    backend = FakeBackend(["a", "b"], gate=True)
    reply = ThreadedReply(backend, [ChatMessage("user", "hi")], GenerationSettings())
    reply.start()
    backend.release(3)

    started = time.perf_counter()
    await reply.pause(30.0)
    assert time.perf_counter() - started < 10.0

    batches = [batch async for batch in reply.batches()]
    assert "".join(batch.text for batch in batches) == "ab"
    assert batches[-1].finished


async def test_pause_waits_while_reply_runs() -> None:
    backend = FakeBackend(["a"], gate=True)
    reply = ThreadedReply(backend, [ChatMessage("user", "hi")], GenerationSettings())
    reply.start()

    started = time.perf_counter()
    await reply.pause(0.05)
    assert time.perf_counter() - started >= 0.05

    reply.cancel.set()
    batches = [batch async for batch in reply.batches()]
    assert batches[-1].finished
