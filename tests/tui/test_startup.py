"""Pilot tests of what the app does after its first frame: the database, the collector, the key bar."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from termchat.config import Config
from termchat.engine.fake import FakeBackend
from termchat.store import open_store
from termchat.tui.app import TermchatApp
from termchat.tui.screens.help import HelpScreen
from termchat.tui.widgets.footer import KeyBar
from tests.tui.conftest import loader_for, wait_for_model, wait_until

pytestmark = pytest.mark.anyio


def make_lazy_app(database_file: Path, backend: FakeBackend | None = None) -> TermchatApp:
    """An app given a database file instead of an open store, as `termchat` without --resume starts it."""
    return TermchatApp(
        database_file=database_file,
        config=Config(model="fake"),
        loader=loader_for(backend if backend is not None else FakeBackend(["an answer"])),
    )


def notifications(app: TermchatApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_database_opened_after_first_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    database = tmp_path / "termchat.db"
    app = make_lazy_app(database)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.store is not None, "the database to open")
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


async def test_broken_database_reported_in_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    database = tmp_path / "termchat.db"
    database.write_bytes(b"this is not an SQLite database, but a text file" * 100)
    app = make_lazy_app(database)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.store_error is not None, "the database error")
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


async def test_collector_enabled_after_first_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    app = make_lazy_app(tmp_path / "termchat.db")
    gc.disable()  # As `termchat` does before it imports the app.
    try:
        async with app.run_test() as pilot:
            await wait_until(pilot, lambda: app.store is not None, "the database to open")
            assert gc.isenabled()
    finally:
        gc.enable()
        if app.store is not None:
            app.store.close()


async def test_key_bar_click_presses_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    app = make_lazy_app(tmp_path / "termchat.db")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.store is not None, "the database to open")
        bar = app.chat.query_one(KeyBar)
        line = str(bar.render())
        assert "Stop reply" in line
        assert "Help" in line
        assert line.rstrip().endswith("palette")
        assert len(line) == 120

        help_start = line.index("f1 Help")
        await pilot.click(KeyBar, offset=(help_start + 1, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
    if app.store is not None:
        app.store.close()


async def test_key_bar_drops_keys_that_overflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    app = make_lazy_app(tmp_path / "termchat.db")
    async with app.run_test(size=(60, 30)) as pilot:
        await wait_until(pilot, lambda: app.store is not None, "the database to open")
        line = str(app.chat.query_one(KeyBar).render())
        assert len(line) == 60
        assert "Stop reply" in line
        assert "Sessions" not in line
        assert "…" not in line
        assert line.rstrip().endswith("palette")
    if app.store is not None:
        app.store.close()
