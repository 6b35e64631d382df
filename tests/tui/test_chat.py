"""Pilot tests of the chat screen: sending, streaming, stopping, regenerating and editing."""

from __future__ import annotations

import pytest

from termchat.engine import GenerationSettings
from termchat.engine.fake import FakeBackend
from termchat.store import Store
from termchat.tui.screens.chat import ChatScreen, reply_speed_and_context
from termchat.tui.widgets.chat_message import AssistantMessage, UserMessage
from termchat.tui.widgets.footer import KeyBar
from tests.tui.conftest import make_app, wait_for_model, wait_until

pytestmark = pytest.mark.anyio


async def send(pilot, text: str) -> None:
    composer = pilot.app.chat.composer
    composer.load_text(text)
    await pilot.press("enter")


async def test_send_streams_reply(store: Store) -> None:
    backend = FakeBackend(["Hel", "lo", " world"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await pilot.press("h", "i", "enter")
        await wait_until(pilot, lambda: app.chat._reply_widget is not None, "the reply widget")
        conversation_id = app.chat.conversation.id

        # The user message is committed before any token arrives.
        saved = store.messages(conversation_id)
        assert [message.role for message in saved] == ["user", "assistant"]
        assert saved[0].content == "hi"
        assert saved[1].status == "streaming"
        assert app.chat.composer.text == ""

        widget = app.chat._reply_widget
        backend.release()
        await wait_until(pilot, lambda: widget.entry.content == "Hel", "the first delta")
        assert app.chat.generating

        backend.release(2)
        await wait_until(pilot, lambda: not app.chat.generating, "the end of the reply")
        await app.workers.wait_for_complete()

        assert widget.entry.content == "Hello world"
        assert widget.entry.status == "complete"
        assert widget.markdown.source == "Hello world"
        reply = store.messages(conversation_id)[-1]
        assert reply.content == "Hello world"
        assert reply.status == "complete"
        assert reply.metadata["stop_reason"] == "eos"
        assert reply.metadata["settings"]["temperature"] == app.chat.settings.temperature
        assert "tok/s" in str(app.chat.status_bar.render())


async def test_escape_stops_reply(store: Store) -> None:
    backend = FakeBackend(["one", " two", " three"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "count")
        await wait_until(pilot, lambda: app.chat._reply_widget is not None, "the reply widget")
        widget = app.chat._reply_widget
        backend.release()
        await wait_until(pilot, lambda: widget.entry.content == "one", "the first delta")

        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.generating, "the stop")

        assert widget.entry.status == "stopped"
        assert widget.has_class("stopped")
        reply = store.messages(app.chat.conversation.id)[-1]
        assert reply.content == "one"
        assert reply.status == "stopped"
        assert reply.metadata["stop_reason"] == "cancelled"

        # A new message can be sent at once.
        backend.release(3)
        await send(pilot, "again")
        await wait_until(pilot, lambda: len(store.messages(app.chat.conversation.id)) == 4, "the second reply")
        await wait_until(pilot, lambda: not app.chat.generating, "the second reply to end")
        assert store.messages(app.chat.conversation.id)[-1].status == "complete"


async def test_send_while_generating_keeps_text(store: Store) -> None:
    backend = FakeBackend(["slow"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.chat.generating, "the reply to start")

        await send(pilot, "second")

        assert app.chat.composer.text == "second"
        assert [entry.content for entry in app.chat.message_list.entries if entry.role == "user"] == ["first"]
        assert len(backend.requests) == 1
        backend.release()
        await wait_until(pilot, lambda: not app.chat.generating, "the reply to end")


async def test_regenerate_replaces_reply(store: Store) -> None:
    backend = FakeBackend(["first answer"])
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "question")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)

        backend.deltas = ["second answer"]
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(backend.requests) == 2 and not app.chat.generating, "regeneration")
        await app.workers.wait_for_complete()

        entries = app.chat.message_list.entries
        assert [entry.content for entry in entries] == ["question", "second answer"]
        saved = store.messages(app.chat.conversation.id)
        assert [message.content for message in saved] == ["question", "second answer"]
        assert [message.content for message in backend.requests[1].messages] == ["question"]
        assert len(app.chat.message_list.query(AssistantMessage)) == 1


async def test_edit_last_message(store: Store) -> None:
    backend = FakeBackend(["reply"])
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "typo here")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)

        await pilot.press("ctrl+g")

        assert app.chat.composer.text == "typo here"
        assert app.chat.message_list.entries == []
        assert store.messages(app.chat.conversation.id) == []

        await send(pilot, "fixed")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert [message.content for message in store.messages(app.chat.conversation.id)] == ["fixed", "reply"]


async def test_copy_reply_and_code(store: Store) -> None:
    reply = "Use this:\n\n```python\nprint('hi')\n```\n"
    app = make_app(store, FakeBackend([reply]))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "code please")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)

        await pilot.press("f3")
        assert app.clipboard == reply

        await pilot.press("f4")
        assert app.clipboard == "print('hi')\n"


async def test_copy_without_reply_warns(store: Store) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await pilot.press("f3")
        await pilot.press("f4")
        assert app.clipboard == ""
        messages = [notification.message for notification in app._notifications]
        assert any("no reply" in message for message in messages)


async def test_markup_and_ansi_shown_literally(store: Store) -> None:
    hostile = "a[0] [/] [bold x [link=x]click[/link] \x1b[31mred\x1b[0m"
    app = make_app(store, FakeBackend([hostile]))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, hostile)
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        await pilot.pause()

        user_body = app.chat.message_list.query_one(UserMessage).query_one(".message-body")
        shown = str(user_body.render())
        assert "a[0] [/] [bold x [link=x]click[/link] ^[[31mred^[[0m" in shown
        assert "\x1b" not in shown

        reply = app.chat.message_list.query_one(AssistantMessage)
        assert "^[[31mred" in reply.markdown.source
        assert "\x1b" not in reply.markdown.source
        # The stored text is the original, escape characters included.
        assert store.messages(app.chat.conversation.id)[-1].content == hostile


async def test_generation_error_shown(store: Store) -> None:
    app = make_app(store, FakeBackend(["part", "never"], fail_at=1))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        await app.workers.wait_for_complete()

        widget = app.chat.message_list.query_one(AssistantMessage)
        assert widget.entry.status == "error"
        saved = store.messages(app.chat.conversation.id)[-1]
        assert saved.status == "error"
        assert saved.content == "part"
        assert "Fake generation error" in saved.metadata["error"]


async def test_context_notice_in_status(store: Store) -> None:
    backend = FakeBackend(["ok"], context_size=40)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        app.chat.apply_settings(app.chat.settings.replace(max_new_tokens=10))
        for text in ("one two three four five six seven eight", "nine ten eleven twelve thirteen fourteen"):
            await send(pilot, text)
            await wait_until(pilot, lambda: not app.chat.generating and app.chat.message_list.entries[-1].role == "assistant")
        await send(pilot, "fifteen sixteen seventeen eighteen nineteen twenty")
        await wait_until(pilot, lambda: len(backend.requests) == 3 and not app.chat.generating)

        status = str(app.chat.status_bar.render())
        assert "left out to fit the context" in status
        assert "/40" in status


async def test_context_shows_prompt_while_streaming(store: Store) -> None:
    backend = FakeBackend(["one", " two"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "three words here")
        await wait_until(pilot, lambda: backend.requests, "the reply to start")
        request = backend.requests[0]
        prompt_tokens = backend.plan(request.messages, request.settings).tokens_in

        await wait_until(
            pilot,
            lambda: f"context {prompt_tokens}/1024" in str(app.chat.status_bar.render()),
            "the prompt's tokens in the status line",
        )
        assert app.chat.generating

        backend.release(2)
        await wait_until(pilot, lambda: not app.chat.generating, "the end of the reply")
        status = str(app.chat.status_bar.render())
        assert f"context {prompt_tokens + 2}/1024" in status


async def test_fast_typing_then_enter_keeps_text(store: Store) -> None:
    from textual import events

    backend = FakeBackend(["ok"])
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        text = "What is the capital of France?"
        # Posted without waiting, as a terminal delivers keys while the app is busy.
        key_names = {" ": "space", "?": "question_mark"}
        for character in text:
            app.post_message(events.Key(key_names.get(character, character), character))
        app.post_message(events.Key("enter", "\r"))
        app.post_message(events.Key("x", "x"))
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)

        assert app.chat.message_list.entries[0].content == text
        assert store.messages(app.chat.conversation.id)[0].content == text
        assert app.chat.composer.text == "x"


async def test_newline_key_inserts_newline(store: Store) -> None:
    app = make_app(store, FakeBackend(["ok"]))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await pilot.press("a", "ctrl+j", "b")
        assert app.chat.composer.text == "a\nb"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert app.chat.message_list.entries[0].content == "a\nb"


async def test_multiline_paste_kept_whole(store: Store) -> None:
    from textual import events

    app = make_app(store, FakeBackend(["ok"]))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        app.post_message(events.Paste("line one\nline two\n\nline four"))
        await wait_until(pilot, lambda: app.chat.composer.text == "line one\nline two\n\nline four", "the paste")


def test_short_model_name() -> None:
    from termchat.tui.widgets.status_bar import short_model_name

    assert short_model_name("/models/SmolLM2-135M-Instruct.Q4_1.gguf") == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert short_model_name("./my-model/") == "my-model"
    assert short_model_name("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert short_model_name("gpt2") == "gpt2"


@pytest.mark.parametrize(
    ("cpu_seconds", "pause"),
    [(0.0, 0.1), (0.0005, 0.1), (0.002, 0.2), (0.005, 0.5), (0.01, 1.0), (1.0, 1.0)],
)
def test_update_pause_follows_cpu_share(cpu_seconds: float, pause: float) -> None:
    screen = ChatScreen(None, GenerationSettings())
    assert screen._pause_after_update(cpu_seconds) == pytest.approx(pause)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"tokens_in": 30, "tokens_out": 12, "tokens_per_second": 9.5}, {"tokens_per_second": 9.5, "context_used": 42}),
        ({}, {"tokens_per_second": None, "context_used": None}),
        ({"tokens_in": "30", "tokens_out": 12, "tokens_per_second": "fast"}, {"tokens_per_second": None, "context_used": None}),
    ],
)
def test_reply_facts_from_metadata(metadata: dict[str, object], expected: dict[str, object]) -> None:
    assert reply_speed_and_context(metadata) == expected


def stop_key_enabled(app) -> bool:
    keys, _palette = app.chat.query_one(KeyBar)._keys()
    [enabled] = [enabled for _display, description, _key, enabled in keys if description == "Stop reply"]
    return enabled


async def test_stop_key_dimmed_while_idle(store: Store) -> None:
    backend = FakeBackend(["one", " two"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        assert not stop_key_enabled(app)

        await send(pilot, "count")
        await wait_until(pilot, lambda: stop_key_enabled(app), "the stop key to be enabled")

        backend.release(2)
        await wait_until(pilot, lambda: not app.chat.generating, "the reply to end")
        await wait_until(pilot, lambda: not stop_key_enabled(app), "the stop key to be dimmed")


@pytest.mark.parametrize(("key", "expected"), [("f2", ["Save", "Cancel"]), ("f1", ["Close help"])])
async def test_modal_key_bar_shows_own_keys(store: Store, key: str, expected: list[str]) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_model(pilot)
        await pilot.press(key)
        await wait_until(pilot, lambda: app.screen is not app.chat, "the modal screen")
        await wait_until(pilot, lambda: bool(app.screen.query(KeyBar)), "the modal's key bar")

        line = str(app.screen.query_one(KeyBar).render())
        for description in expected:
            assert description in line
        assert "Stop reply" not in line
