"""Pilot tests of the app shell: model loading, quitting, resuming, screens, keys and themes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from termchat.config import Config, load_config
from termchat.engine import GenerationSettings
from termchat.engine.fake import FakeBackend
from termchat.store import Store, StoreError
from termchat.tui.screens.help import HelpScreen
from termchat.tui.screens.rename import RenameScreen
from termchat.tui.screens.sessions import NewConversation, OpenConversation, SessionsScreen
from termchat.tui.screens.settings import SettingsResult, SettingsScreen
from termchat.tui.widgets.chat_message import UserMessage
from termchat.tui.widgets.message_list import PAGE_SIZE
from termchat.tui.widgets.title_bar import TitleBar
from tests.tui.conftest import GatedLoader, make_app, wait_for_model, wait_until

pytestmark = pytest.mark.anyio


async def send(pilot, text: str) -> None:
    pilot.app.chat.composer.load_text(text)
    await pilot.press("enter")


def notifications(app) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_message_queued_while_loading(store: Store) -> None:
    backend = FakeBackend(["answer"])
    loader = GatedLoader(backend)
    app = make_app(store, loader=loader)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: loader.requests, "the load to start")
        load_message = str(app.chat.query_one("#load-message").render())
        assert "Downloading" in load_message or "Loading" in load_message

        await send(pilot, "early question")

        (entry,) = app.chat.message_list.entries
        assert entry.status == "queued"
        assert "queued" in str(app.chat.message_list.query_one(UserMessage).query_one(".message-header").render())
        assert app.chat.composer.text == ""
        assert [message.content for message in store.messages(app.chat.conversation.id)] == ["early question"]

        loader.finish()
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert [message.content for message in backend.requests[0].messages] == ["early question"]
        assert app.chat.message_list.entries[0].status == "complete"
        assert not app.chat.query_one("#load-panel").display


async def test_load_failure_keeps_app_usable(store: Store) -> None:
    loader = GatedLoader(FakeBackend(["from the second model"]))
    app = make_app(store, loader=loader)
    async with app.run_test() as pilot:
        loader.fail("Model 'missing' was not found; pass a Hub id, a folder or a .gguf file with --model.")
        await wait_for_model(pilot)

        assert app.backend is None
        panel_text = str(app.chat.query_one("#load-message").render())
        assert "Model 'missing' was not found" in panel_text
        assert app.chat.query_one("#load-panel").display

        await send(pilot, "still typing")
        assert app.chat.message_list.entries[0].status == "queued"

        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), "the settings screen")
        app.screen.dismiss(None)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        app.screen.dismiss(None)
        await wait_until(pilot, lambda: app.screen is app.chat, "the chat screen")

        # Another model can be picked, and the queued message then gets its reply.
        loader.error = None
        app.action_load_model("other-model")
        await wait_until(pilot, lambda: app.backend is not None, "the second load")
        assert loader.requests[-1].model == "other-model"
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert app.chat.message_list.entries[-1].content == "from the second model"


async def test_failed_load_keeps_loaded_model(store: Store) -> None:
    backend = FakeBackend(["from the first model"])
    loader = GatedLoader(backend)
    app = make_app(store, loader=loader)
    async with app.run_test() as pilot:
        loader.finish()
        await wait_for_model(pilot)
        first_spec = app.spec

        loader.error = "Model path '/tmp/missing.gguf' not found."
        app.action_load_model("/tmp/missing.gguf")
        await wait_until(pilot, lambda: any("Still using" in text for text in notifications(app)), "the failure")

        assert app.backend is backend
        assert app.spec is first_spec
        assert app.load_error is None
        assert not app.chat.query_one("#load-panel").display
        status = str(app.chat.status_bar.render())
        assert "No model loaded" not in status
        [notice] = [text for text in notifications(app) if "Still using" in text]
        assert "/tmp/missing.gguf" in notice

        await send(pilot, "still there?")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert app.chat.message_list.entries[-1].content == "from the first model"


async def start_partial_reply(pilot, backend: FakeBackend) -> str:
    """Send a message, let the first of two deltas through, and return the conversation id."""
    app = pilot.app
    await wait_for_model(pilot)
    await send(pilot, "long question")
    await wait_until(pilot, lambda: app.chat._reply_widget is not None, "the reply widget")
    widget = app.chat._reply_widget
    backend.release()
    await wait_until(pilot, lambda: widget.entry.content == "partial", "the first delta")
    return app.chat.conversation.id


def assert_saved_as_stopped(store: Store, conversation_id: str) -> None:
    saved = store.messages(conversation_id)
    assert [message.role for message in saved] == ["user", "assistant"]
    assert saved[-1].content == "partial"
    assert saved[-1].status == "stopped"


async def test_quit_during_generation_saves_partial(store: Store) -> None:
    backend = FakeBackend(["partial", " never shown"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        conversation_id = await start_partial_reply(pilot, backend)

        started = time.perf_counter()
        await pilot.press("ctrl+q")
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0
    assert app.return_code == 0
    assert_saved_as_stopped(store, conversation_id)


@pytest.mark.parametrize("number", [signal.SIGHUP, signal.SIGTERM])
async def test_hangup_saves_partial_reply(store: Store, number: int) -> None:
    backend = FakeBackend(["partial", " never shown"], gate=True)
    app = make_app(store, backend)
    async with app.run_test() as pilot:
        conversation_id = await start_partial_reply(pilot, backend)

        # Without the app's handler the signal would end the test run itself.
        assert signal.getsignal(number) is not signal.SIG_DFL
        os.kill(os.getpid(), number)
        await wait_until(pilot, lambda: app._exit, "the app to exit")

    assert_saved_as_stopped(store, conversation_id)
    assert signal.getsignal(number) is signal.SIG_DFL


async def test_resume_shows_conversation(store: Store) -> None:
    conversation = store.create_conversation("fake", GenerationSettings(temperature=0.2).to_dict(), title="Old")
    store.add_message(conversation.id, "user", "first question")
    store.add_message(conversation.id, "assistant", "first answer")
    backend = FakeBackend(["second answer"])
    app = make_app(store, backend, conversation_id=conversation.id)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        assert [entry.content for entry in app.chat.message_list.entries] == ["first question", "first answer"]
        assert app.chat.settings.temperature == 0.2
        assert app.chat.sub_title == "Old"

        await send(pilot, "second question")
        await wait_until(pilot, lambda: len(backend.requests) == 1 and not app.chat.generating)

        assert [message.content for message in backend.requests[0].messages] == [
            "first question",
            "first answer",
            "second question",
        ]
        assert backend.requests[0].settings.temperature == 0.2
        assert store.count_messages(conversation.id) == 4


async def test_resume_shows_saved_reply_facts(store: Store) -> None:
    conversation = store.create_conversation("fake", GenerationSettings().to_dict(), title="Old")
    store.add_message(conversation.id, "user", "first question")
    facts = {"tokens_in": 30, "tokens_out": 12, "tokens_per_second": 9.5}
    store.add_message(conversation.id, "assistant", "first answer", metadata=facts)
    app = make_app(store, FakeBackend(), conversation_id=conversation.id)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        status = str(app.chat.status_bar.render())
        assert "context 42/" in status
        assert "9.5 tok/s" in status

        await app.chat.open_conversation(None)
        status = str(app.chat.status_bar.render())
        assert "context 0/" in status
        assert "tok/s" not in status


async def test_resume_offers_missing_reply(store: Store) -> None:
    conversation = store.create_conversation("fake", {}, title="Crashed")
    store.add_message(conversation.id, "user", "unanswered")
    backend = FakeBackend(["late answer"])
    app = make_app(store, backend, conversation_id=conversation.id)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await wait_until(pilot, lambda: any("no reply yet" in text for text in notifications(app)), "the offer")
        assert backend.requests == []

        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert store.messages(conversation.id)[-1].content == "late answer"


async def test_settings_apply_to_next_reply(store: Store, tmp_path: Path) -> None:
    backend = FakeBackend(["ok"])
    config_path = tmp_path / "config.toml"
    app = make_app(store, backend, config_path=config_path)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "before")
        await wait_until(pilot, lambda: len(backend.requests) == 1 and not app.chat.generating)
        assert backend.requests[0].settings.temperature == GenerationSettings().temperature

        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), "the settings screen")
        changed = GenerationSettings(temperature=0.0, max_new_tokens=20)
        app.screen.dismiss(SettingsResult(changed, save_as_default=False))
        await wait_until(pilot, lambda: app.screen is app.chat, "the chat screen")

        await send(pilot, "after")
        await wait_until(pilot, lambda: len(backend.requests) == 2 and not app.chat.generating)

        assert backend.requests[1].settings == changed
        assert store.get_conversation(app.chat.conversation.id).settings == changed.to_dict()
        assert store.messages(app.chat.conversation.id)[-1].metadata["settings"] == changed.to_dict()
        assert not config_path.exists()


async def test_settings_saved_as_default(store: Store, tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    app = make_app(store, FakeBackend(), config_path=config_path)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        changed = GenerationSettings(top_k=5, seed=3)
        app._apply_settings_result(SettingsResult(changed, save_as_default=True))
        await pilot.pause()

        assert load_config(config_path).generation == changed
        assert app.config.generation == changed
        assert app.chat.settings == changed


async def test_sessions_open_and_new(store: Store) -> None:
    other = store.create_conversation("fake", {}, title="Other chat")
    store.add_message(other.id, "user", "from the other chat")
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        app.screen.dismiss(OpenConversation(other.id))
        await wait_until(pilot, lambda: app.chat.conversation is not None, "the conversation to open")
        assert [entry.content for entry in app.chat.message_list.entries] == ["from the other chat"]

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        app.screen.dismiss(NewConversation())
        await wait_until(pilot, lambda: app.chat.conversation is None, "the new chat")
        assert app.chat.message_list.entries == []


async def rename_open_conversation(pilot, new_title: str) -> None:
    """Rename the open conversation on the sessions screen and stay there."""
    app = pilot.app
    conversation_id = app.chat.conversation.id
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
    await wait_until(pilot, lambda: conversation_id in app.screen.conversations, "the conversation list")
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen), "the rename dialog")
    await pilot.press(*new_title, "enter")
    await wait_until(pilot, lambda: store_title(app, conversation_id) == new_title, "the rename to be saved")
    await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen again")


def store_title(app, conversation_id: str) -> str:
    return app.store.get_conversation(conversation_id).title


def header_title(app) -> str:
    return str(app.chat.query_one(TitleBar).render())


@pytest.mark.parametrize("return_key", ["escape", "enter"])
async def test_renamed_open_conversation_header(store: Store, return_key: str) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "first title")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        assert "first title" in header_title(app)

        await rename_open_conversation(pilot, "Bread notes")
        # Escape goes back to the chat. Enter opens the highlighted row, which is the renamed conversation.
        await pilot.press(return_key)
        await wait_until(pilot, lambda: app.screen is app.chat, "the chat screen")
        await wait_until(pilot, lambda: "Bread notes" in header_title(app), "the new title in the header")

        assert app.chat.sub_title == "Bread notes"
        assert app.chat.conversation.title == "Bread notes"
        assert "first title" not in header_title(app)


async def test_deleted_open_conversation_is_closed(store: Store) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "soon deleted")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        conversation_id = app.chat.conversation.id

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        store.delete_conversation(conversation_id)
        app.screen.dismiss(None)
        await wait_until(pilot, lambda: app.chat.conversation is None, "the chat to reset")
        assert app.chat.message_list.entries == []


async def test_long_conversation_mounts_one_page(store: Store) -> None:
    conversation = store.create_conversation("fake", {}, title="Long")
    # The store's connection is in autocommit mode, so one explicit transaction keeps this fast.
    store.connection.execute("BEGIN")
    store.connection.executemany(
        "INSERT INTO messages (conversation_id, role, content, created_at, status) VALUES (?, ?, ?, ?, 'complete')",
        [
            (conversation.id, "user" if index % 2 == 0 else "assistant", f"message {index}", float(index))
            for index in range(10_000)
        ],
    )
    store.connection.execute("COMMIT")
    app = make_app(store, FakeBackend(), conversation_id=conversation.id)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for_model(pilot)
        message_list = app.chat.message_list
        assert len(message_list.entries) == 10_000
        assert message_list.mounted_count == PAGE_SIZE
        assert len(message_list.children) == PAGE_SIZE

        message_list.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: message_list.mounted_count == 2 * PAGE_SIZE, "the older page")
        assert len(message_list.children) == 2 * PAGE_SIZE
        assert message_list.scroll_y > 0


async def test_help_lists_bindings(store: Store) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        ids = {binding_id for _key, _description, binding_id in app.screen.key_bindings}
        for expected in ("quit", "help", "sessions", "settings", "new_chat", "stop", "regenerate",
                         "edit_last", "copy_reply", "copy_code", "send", "newline", "copy_message"):
            assert expected in ids


async def test_config_keys_remap_bindings(store: Store) -> None:
    config = Config(model="fake", keys={"regenerate": "ctrl+t", "no_such_action": "f9"})
    backend = FakeBackend(["one"])
    app = make_app(store, backend, config=config)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        assert any("no_such_action" in text for text in notifications(app))
        await send(pilot, "question")
        await wait_until(pilot, lambda: len(backend.requests) == 1 and not app.chat.generating)

        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: len(backend.requests) == 2 and not app.chat.generating, "regeneration")
        keys = {binding_id: key for key, _description, binding_id in app.binding_rows()}
        assert "t" in keys["regenerate"].lower()


async def test_theme_change_is_saved(store: Store, tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    app = make_app(store, FakeBackend(), config=Config(model="fake", theme="nord"), config_path=config_path)
    async with app.run_test() as pilot:
        assert app.theme == "nord"
        app.theme = "gruvbox"
        await wait_until(pilot, lambda: config_path.exists(), "the config file")
    assert load_config(config_path).theme == "gruvbox"


async def test_palette_lists_actions(store: Store) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        titles = {command.title for command in app.get_system_commands(app.chat)}
        for expected in ("Help", "Sessions", "Settings", "New chat", "Stop reply", "Regenerate",
                         "Edit last message", "Copy reply", "Copy code block", "Export conversation", "Theme"):
            assert expected in titles


async def test_export_writes_markdown(store: Store, tmp_path: Path) -> None:
    app = make_app(store, FakeBackend(["exported answer"]))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "export me")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        app.action_export()
    exports = list((tmp_path / "home" / "exports").glob("*.md"))
    assert len(exports) == 1
    assert "exported answer" in exports[0].read_text(encoding="utf-8")


class FlakyStore(Store):
    """A store whose next `failures` message inserts fail as if the disk were full."""

    failures = 0

    def add_message(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise StoreError("Could not save the message: the disk is full.", reason="full")
        return super().add_message(*args, **kwargs)


async def test_failed_save_notified_and_retried(store: Store) -> None:
    store.__class__ = FlakyStore
    store.failures = 1
    app = make_app(store, FakeBackend(["kept"]))
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        await send(pilot, "must survive")
        await wait_until(pilot, lambda: any("disk is full" in text for text in notifications(app)), "the notice")
        await wait_until(pilot, lambda: not app.chat.generating, "the reply")
        assert app.chat.recorder.pending is False or app.chat.recorder.last_error is not None

        app.chat._retry_save()
        assert app.chat.recorder.pending is False
        assert [message.content for message in store.messages(app.chat.conversation.id)] == ["must survive", "kept"]
