"""Screenshots of the sessions and settings screens, compared with pytest-textual-snapshot.

Update them after an intended change with `pytest tests/screens --snapshot-update`.
Times come from the tests' StepClock and are shown in UTC, conversation ids
are counted instead of random, and the cursor does not blink, so every run
draws the same screen.
"""

from __future__ import annotations

import itertools
import uuid

import pytest
from textual.widgets import Input, TextArea

from termchat.engine import GenerationSettings
from termchat.tui.screens.sessions import SessionsScreen
from termchat.tui.screens.settings import SettingsScreen
from tests.screens.conftest import ScreenHost, add_conversation, wait_until

SIZE = (100, 28)


def stop_cursor_blink(app: ScreenHost) -> None:
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    for widget in app.screen.query(TextArea):
        widget.cursor_blink = False


@pytest.fixture
def filled_store(store, monkeypatch):
    # Counting in the top 32 bits gives each conversation its own short id.
    ids = (uuid.UUID(int=number << 96) for number in itertools.count(0xC0FFEE00))
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    add_conversation(store, "Baking bread", model="gpt2", messages=("how long should dough rise", "about an hour"))
    add_conversation(store, "[bold]Markup[/bold] a[0] [/] title", model="distilgpt2", messages=("[link=x]hi",))
    add_conversation(store, "", model="SmolLM2-135M-Instruct.Q8_0.gguf")
    add_conversation(store, "Rust lifetimes", model="gpt2", messages=("explain lifetimes", "sure", "more bread?"))
    add_conversation(store, "A title long enough to be cut short in the table of conversations", messages=("x",))
    return store


def test_sessions_list_snapshot(snap_compare, filled_store, utc):
    app = ScreenHost(SessionsScreen(filled_store))

    async def loaded(pilot):
        await wait_until(pilot, lambda: app.hosted.all_loaded)
        stop_cursor_blink(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)


def test_sessions_search_snapshot(snap_compare, filled_store, utc):
    app = ScreenHost(SessionsScreen(filled_store))

    async def searched(pilot):
        await wait_until(pilot, lambda: app.hosted.all_loaded)
        await pilot.press("slash", *"bread")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.hosted.has_class("-searching"))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        stop_cursor_blink(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=searched)


def test_settings_invalid_snapshot(snap_compare):
    settings = GenerationSettings(temperature=0.7, top_k=40, top_p=0.9, max_new_tokens=128, seed=None)
    app = ScreenHost(SettingsScreen(settings, context_size=1024))

    async def invalid(pilot):
        await pilot.pause()
        app.screen.query_one("#top_k", Input).value = "9.2"
        app.screen.query_one("#system_prompt", TextArea).text = "You are a [b]terse[/b] assistant."
        stop_cursor_blink(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 44), run_before=invalid)
