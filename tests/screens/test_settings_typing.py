"""SettingsScreen: keys typed quickly land in the focused field, with or without pauses."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Button, Input, TextArea

from termchat.engine import GenerationSettings
from termchat.tui.screens.settings import SettingsScreen
from tests.screens.conftest import ScreenHost, poll_until

pytestmark = pytest.mark.anyio

CHARACTERS = {"tab": "\t", "shift+tab": None, "enter": "\r"}


def field(app: ScreenHost, name: str) -> Input:
    return app.hosted.query_one(f"#{name}", Input)


def send_at_once(app: ScreenHost, *keys: str) -> None:
    """Queue `keys` the way a terminal delivers a burst: all before the app handles the first."""
    for key in keys:
        app.post_message(events.Key(key, CHARACTERS.get(key, key)))


async def focus_max_new_tokens(pilot) -> None:
    await pilot.press("tab", "tab", "tab")
    assert field(pilot.app, "max_new_tokens").has_focus


async def test_digits_without_pauses() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(), 1024))
    async with app.run_test() as pilot:
        await focus_max_new_tokens(pilot)

        await pilot.press("2", "0")

        assert field(app, "max_new_tokens").value == "20"
        assert "max_new_tokens" not in app.hosted.errors


async def test_digits_with_pauses() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(), 1024))
    async with app.run_test() as pilot:
        await focus_max_new_tokens(pilot)

        await pilot.press("2")
        await pilot.pause(0.1)
        await pilot.press("0")
        await pilot.pause(0.1)

        assert field(app, "max_new_tokens").value == "20"
        assert "max_new_tokens" not in app.hosted.errors


async def test_digits_right_after_tab() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7), 1024))
    async with app.run_test() as pilot:
        assert field(app, "temperature").has_focus

        send_at_once(app, "tab", "tab", "tab", "2", "0")
        # Wait for either outcome, so a failure names the field that took the digits.
        await poll_until(
            pilot, lambda: field(app, "max_new_tokens").value == "20" or field(app, "temperature").value == "20"
        )

        assert field(app, "temperature").value == "0.7"
        assert field(app, "max_new_tokens").value == "20"
        assert field(app, "max_new_tokens").has_focus


async def test_digits_right_after_shift_tab() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(top_k=50), 1024))
    async with app.run_test() as pilot:
        await focus_max_new_tokens(pilot)

        send_at_once(app, "shift+tab", "shift+tab", "9")
        await poll_until(pilot, lambda: field(app, "top_k").value == "9" or field(app, "max_new_tokens").value == "9")

        assert field(app, "max_new_tokens").value == "256"
        assert field(app, "top_k").value == "9"
        assert field(app, "top_k").has_focus


async def test_digits_right_after_enter() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7, top_k=50), 1024))
    async with app.run_test() as pilot:
        assert field(app, "temperature").has_focus

        send_at_once(app, "enter", "4", "2")
        await poll_until(pilot, lambda: field(app, "top_k").value == "42" or field(app, "temperature").value != "0.7")

        assert field(app, "temperature").value == "0.7"
        assert field(app, "top_k").value == "42"
        assert field(app, "top_k").has_focus


async def test_letters_pressed_after_enter() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7, top_k=50), 1024))
    async with app.run_test() as pilot:
        await pilot.press("enter", "x", "y")

        assert field(app, "temperature").value == "0.7"
        assert field(app, "top_k").value == "xy"
        assert "top_k" in app.hosted.errors
        assert "temperature" not in app.hosted.errors


async def test_enter_on_invalid_field_stays() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7), 1024))
    async with app.run_test() as pilot:
        # The initial value is selected on focus, so typing replaces it.
        await pilot.press("a", "b", "c")
        assert field(app, "temperature").value == "abc"

        send_at_once(app, "enter", "1")
        await poll_until(pilot, lambda: field(app, "temperature").value == "abc1" or field(app, "top_k").value == "1")

        assert field(app, "temperature").value == "abc1"
        assert field(app, "temperature").has_focus
        assert "temperature" in app.hosted.errors


async def test_enter_presses_focused_button() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7), 1024))
    async with app.run_test() as pilot:
        app.hosted.query_one("#save", Button).focus()
        await pilot.press("enter")
        await poll_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert result.settings.temperature == 0.7
    assert not result.save_as_default


async def test_enter_in_system_prompt_adds_line() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(system_prompt=""), 1024))
    async with app.run_test() as pilot:
        prompt = app.hosted.query_one("#system_prompt", TextArea)
        prompt.focus()

        send_at_once(app, "a", "enter", "b")
        await poll_until(pilot, lambda: "b" in prompt.text)

        assert prompt.text == "a\nb"
        assert prompt.has_focus
