"""Pilot tests of what the app does after its first frame: the database, the collector, the key bar."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from termchat.config import Config
from termchat.engine.fake import FakeBackend
from termchat.store import open_store
from termchat.tui.app import TermchatApp
from termchat.tui.screens.help import HelpScreen
from termchat.tui.widgets.footer import KeyBar
from tests.tui.conftest import loader_for, wait_for_model, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return the path the lazy app opens, with TERMCHAT_HOME in a temporary folder."""
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    return tmp_path / "termchat.db"


@pytest.fixture
def lazy_app(database: Path) -> Iterator[TermchatApp]:
    """Yield an app given a database file instead of an open store, as `termchat` without --resume starts it."""
    app = TermchatApp(
        database_file=database,
        config=Config(model="fake"),
        loader=loader_for(FakeBackend(["an answer"])),
    )
    yield app
    if app.store is not None:
        app.store.close()


async def wait_for_database(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, TermchatApp)
    await wait_until(pilot, lambda: app.store is not None, "the database to open")


def notifications(app: TermchatApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_database_opened_after_first_frame(lazy_app: TermchatApp, database: Path) -> None:
    app = lazy_app
    async with app.run_test() as pilot:
        await wait_for_database(pilot)
        await wait_for_model(pilot)
        app.chat.composer.load_text("saved question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        conversation_id = app.chat.conversation.id
    assert app.store is not None
    app.store.close()

    reopened = open_store(database)
    try:
        assert [message.content for message in reopened.messages(conversation_id)] == ["saved question", "an answer"]
    finally:
        reopened.close()


async def test_broken_database_reported_in_app(lazy_app: TermchatApp, database: Path) -> None:
    database.write_bytes(b"this is not an SQLite database, but a text file" * 100)
    app = lazy_app
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.chat.store_error is not None, "the database error")
        notice = app.chat.query_one("#store-error")
        assert notice.display
        assert str(database) in str(notice.render())

        app.chat.composer.load_text("a question to keep")
        await pilot.press("enter")
        assert app.chat.composer.text == "a question to keep"
        assert app.chat.message_list.entries == []
        assert any("cannot be saved" in message for message in notifications(app))

        await pilot.press("ctrl+o")
        assert not any(type(screen).__name__ == "SessionsScreen" for screen in app.screen_stack)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
    assert database.read_bytes().startswith(b"this is not an SQLite database")


async def test_collector_enabled_after_first_frame(lazy_app: TermchatApp) -> None:
    gc.disable()  # As `termchat` does before it imports the app.
    try:
        async with lazy_app.run_test() as pilot:
            await wait_for_database(pilot)
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_key_bar_click_presses_key(lazy_app: TermchatApp) -> None:
    app = lazy_app
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_database(pilot)
        bar = app.chat.query_one(KeyBar)
        line = str(bar.render())
        assert "Stop reply" in line
        assert "Help" in line
        assert line.rstrip().endswith("palette")
        assert len(line) == 120

        help_start = line.index("f1 Help")
        await pilot.click(KeyBar, offset=(help_start + 1, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")


async def test_key_bar_drops_keys_that_overflow(lazy_app: TermchatApp) -> None:
    async with lazy_app.run_test(size=(60, 30)) as pilot:
        await wait_for_database(pilot)
        line = str(lazy_app.chat.query_one(KeyBar).render())
        assert len(line) == 60
        assert "Stop reply" in line
        assert "Sessions" not in line
        assert "…" not in line
        assert line.rstrip().endswith("palette")


async def test_chat_screen_is_default_screen(lazy_app: TermchatApp) -> None:
    # Pushing the chat screen over Textual's empty default screen composed and
    # painted that screen first, about 13 ms of the time to first paint.
    app = lazy_app
    async with app.run_test() as pilot:
        await wait_for_database(pilot)
        assert app.screen_stack == [app.chat]
