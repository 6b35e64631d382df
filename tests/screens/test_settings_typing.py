"""SettingsScreen: keys typed quickly land in the focused field, with or without pauses."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Button, Input, Static, TextArea

from termchat.engine import GenerationSettings
from termchat.tui.screens.settings import SettingsScreen
from tests.screens.conftest import ScreenHost, poll_until

pytestmark = pytest.mark.anyio

CHARACTERS = {"tab": "\t", "shift+tab": None, "enter": "\r", "backspace": "\x7f"}
"""The character sent with each named key. Other named keys, such as ctrl+k, get None, as in Textual's pilot."""


def field(app: ScreenHost, name: str) -> Input:
    return app.hosted.query_one(f"#{name}", Input)


def send_at_once(app: ScreenHost, *keys: str) -> None:
    """Queue `keys` the way a terminal delivers a burst: all before the app handles the first."""
    for key in keys:
        character = CHARACTERS.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


def error_text(app: ScreenHost, name: str) -> str:
    return str(app.hosted.query_one(f"#{name}-error", Static).render())


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


async def test_edit_keys_before_enter() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7, top_k=50), 1024))
    async with app.run_test() as pilot:
        assert field(app, "temperature").has_focus

        send_at_once(app, "ctrl+k", "5", "enter")
        await poll_until(
            pilot, lambda: field(app, "temperature").value == "5" and not field(app, "temperature").has_focus
        )

        assert field(app, "top_k").value == "50"
        assert field(app, "top_k").has_focus
        assert "top_k" not in app.hosted.errors
        assert "temperature" not in app.hosted.errors


async def test_invalid_edit_before_enter() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7, top_k=50), 1024))
    async with app.run_test() as pilot:
        send_at_once(app, "ctrl+a", "ctrl+k", "a", "b", "c", "enter")
        await poll_until(pilot, lambda: field(app, "temperature").value == "abc" and "temperature" in app.hosted.errors)

        assert field(app, "temperature").has_focus
        assert field(app, "top_k").value == "50"
        assert error_text(app, "temperature").startswith("Invalid value 'abc'")
        assert error_text(app, "top_k") == ""
        assert set(app.hosted.errors) == {"temperature"}


async def test_keys_on_both_sides_of_enter() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7, top_k=50), 1024))
    async with app.run_test() as pilot:
        # Ctrl+A moves the cursor to the start, so 5 goes before the old value.
        send_at_once(app, "ctrl+a", "5", "enter", "4", "2")
        await poll_until(pilot, lambda: "42" in field(app, "top_k").value)

        assert field(app, "temperature").value == "50.7"
        assert field(app, "top_k").value == "42"
        assert field(app, "top_k").has_focus


async def test_edit_keys_before_tab() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7, top_k=50), 1024))
    async with app.run_test() as pilot:
        send_at_once(app, "ctrl+a", "ctrl+k", "tab", "9")
        await poll_until(pilot, lambda: field(app, "top_k").has_focus and field(app, "top_k").value != "50")

        assert field(app, "temperature").value == ""
        assert field(app, "top_k").value == "9"
        assert field(app, "top_k").has_focus


async def test_backspace_in_prompt_before_shift_tab() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(seed=7, system_prompt="Be brief."), 1024))
    async with app.run_test() as pilot:
        prompt = app.hosted.query_one("#system_prompt", TextArea)
        prompt.focus()
        prompt.move_cursor(prompt.document.end)
        await pilot.pause()

        send_at_once(app, "backspace", "shift+tab")
        # Wait for either outcome, so a failure names the field that took the backspace.
        await poll_until(
            pilot,
            lambda: field(app, "seed").has_focus and (prompt.text != "Be brief." or field(app, "seed").value != "7"),
        )

        assert prompt.text == "Be brief"
        assert field(app, "seed").value == "7"


async def test_enter_on_button_before_tab() -> None:
    app = ScreenHost(SettingsScreen(GenerationSettings(temperature=0.7), 1024))
    async with app.run_test() as pilot:
        app.hosted.query_one("#save", Button).focus()
        await pilot.pause()

        send_at_once(app, "enter", "tab")
        await poll_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert not result.save_as_default
