"""Reply headers name the model that wrote the reply, live and after resuming."""

from __future__ import annotations

import pytest
from textual.widgets import Label

from termchat.engine.fake import FakeBackend
from termchat.store import Store
from termchat.tui.widgets.chat_message import AssistantMessage
from tests.tui.conftest import GatedLoader, make_app, wait_until

pytestmark = pytest.mark.anyio


def reply_headers(app) -> list[str]:
    return [
        str(widget.query_one(".message-header", Label).render())
        for widget in app.chat.message_list.query(AssistantMessage)
    ]


async def test_resumed_replies_name_their_model(store: Store) -> None:
    conversation = store.create_conversation("/models/old/gpt2-medium", {}, title="resumed")
    store.add_message(conversation.id, "user", "first question")
    store.add_message(conversation.id, "assistant", "reply saved without a model")
    store.add_message(conversation.id, "user", "second question")
    store.add_message(
        conversation.id, "assistant", "reply from another model", metadata={"model": "/models/q/smollm2.gguf"}
    )
    loader = GatedLoader(FakeBackend(["live reply"], model_id="fake-model"))
    app = make_app(store, loader=loader, conversation_id=conversation.id)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 4, "the saved conversation")

        # The model is still loading, and the headers name the saved models anyway.
        assert reply_headers(app) == ["gpt2-medium", "smollm2.gguf"]

        loader.finish()
        await wait_until(pilot, lambda: app.backend is not None, "the model load")
        app.chat.composer.load_text("third question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 6 and not app.chat.generating)
        assert reply_headers(app)[-1] == "fake-model"

        await app.chat.open_conversation(conversation.id)
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 6, "the reopened conversation")

        assert reply_headers(app) == ["gpt2-medium", "smollm2.gguf", "fake-model"]
        assert store.messages(conversation.id)[-1].metadata["model"] == "fake-model"


async def test_stopped_reply_keeps_its_model(store: Store) -> None:
    backend = FakeBackend(["one ", "two ", "three"], gate=True, model_id="gated-model")
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.backend is not None, "the model load")
        app.chat.composer.load_text("question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.generating, "the reply to start")
        backend.release(1)

        app.chat.close_reply_now()

        conversation_id = app.chat.conversation.id
        await wait_until(pilot, lambda: store.messages(conversation_id)[-1].status == "stopped", "the stopped reply")
        assert store.messages(conversation_id)[-1].metadata["model"] == "gated-model"
