"""End to end with a real transformers model: the tiny GPT-2 trained on one conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from termchat.config import Config
from termchat.engine import GenerationSettings, ModelSpec, load_backend
from termchat.store import Store
from termchat.tui.app import TermchatApp
from tests.conftest import TRAINED_REPLY
from tests.tui.conftest import wait_for_model, wait_until

pytestmark = pytest.mark.anyio


async def test_tiny_gpt2_chat(store: Store, trained_gpt2_dir: Path) -> None:
    import torch

    torch.set_num_threads(1)
    config = Config(model=str(trained_gpt2_dir), generation=GenerationSettings(temperature=0, max_new_tokens=20))
    app = TermchatApp(
        store=store,
        config=config,
        spec=ModelSpec(model=str(trained_gpt2_dir), device="cpu"),
        loader=load_backend,
    )
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        assert app.load_error is None
        assert app.backend.info.context_size == 128

        app.chat.composer.load_text("hi")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        await app.workers.wait_for_complete()

        reply = app.chat.message_list.entries[-1]
        assert reply.content == TRAINED_REPLY
        assert reply.status == "complete"
        saved = store.messages(app.chat.conversation.id)
        assert [message.content for message in saved] == ["hi", TRAINED_REPLY]
        assert saved[-1].metadata["tokens_out"] > 0
        status = str(app.chat.status_bar.render())
        assert "cpu" in status
        assert "/128" in status
