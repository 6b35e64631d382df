"""SettingsScreen: saved values, inline validation and the dismiss value of each button."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static, TextArea

from termchat.engine import GenerationSettings, SettingsError
from termchat.tui.screens.settings import SettingsResult, SettingsScreen
from tests.screens.conftest import ScreenHost, wait_until

ORIGINAL = GenerationSettings(
    temperature=0.7,
    top_k=40,
    top_p=0.9,
    max_new_tokens=128,
    repetition_penalty=1.1,
    seed=7,
    system_prompt="Be brief.",
)
CONTEXT_SIZE = 1024
FORM_ERROR = "Some values are invalid. Correct them before saving."

pytestmark = pytest.mark.anyio


def host(settings: GenerationSettings = ORIGINAL, context_size: int | None = CONTEXT_SIZE) -> ScreenHost:
    return ScreenHost(SettingsScreen(settings, context_size))


def settings_screen(app: ScreenHost) -> SettingsScreen:
    assert isinstance(app.hosted, SettingsScreen)
    return app.hosted


def error_text(screen: SettingsScreen, field: str) -> str:
    return str(screen.query_one(f"#{field}-error", Static).render())


async def set_field(pilot, screen: SettingsScreen, field: str, text: str) -> None:
    screen.query_one(f"#{field}", Input).value = text
    await pilot.pause()


async def test_save_unchanged_returns_original():
    app = host()
    async with app.run_test() as pilot:
        await pilot.click("#save")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [SettingsResult(ORIGINAL, save_as_default=False)]


async def test_save_typed_values():
    app = host()
    async with app.run_test() as pilot:
        screen = settings_screen(app)
        temperature = screen.query_one("#temperature", Input)
        assert temperature.has_focus
        # select_on_focus selected the old value, so typing replaces it.
        await pilot.press("0")
        await pilot.press("tab")
        await pilot.press("5")
        await set_field(pilot, screen, "max_new_tokens", "20")
        await set_field(pilot, screen, "seed", "")
        screen.query_one("#system_prompt", TextArea).text = "Answer in French."
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert result.save_as_default is False
    assert result.settings.temperature == 0.0
    assert result.settings.top_k == 5
    assert result.settings.max_new_tokens == 20
    assert result.settings.seed is None
    assert result.settings.system_prompt == "Answer in French."
    assert result.settings.top_p == ORIGINAL.top_p


async def test_save_as_default_sets_flag():
    app = host()
    async with app.run_test() as pilot:
        await set_field(pilot, settings_screen(app), "top_p", "0.5")
        await pilot.click("#save-default")
        await wait_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert result.save_as_default is True
    assert result.settings.top_p == 0.5


async def test_escape_cancels():
    app = host()
    async with app.run_test() as pilot:
        await set_field(pilot, settings_screen(app), "temperature", "1.5")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [None]


async def test_cancel_button_cancels():
    app = host()
    async with app.run_test() as pilot:
        await pilot.click("#cancel")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [None]


INVALID_CASES = [
    ("top_k", "abc"),
    ("top_k", "-1"),
    ("top_k", "9.2"),
    ("top_p", "0"),
    ("top_p", "1.5"),
    ("max_new_tokens", "0"),
    ("max_new_tokens", "2000"),
    ("max_new_tokens", str(CONTEXT_SIZE)),
    ("temperature", "abc"),
    ("temperature", "-1"),
    ("repetition_penalty", "0"),
    ("seed", "-1"),
    ("seed", str(2**32)),
]


def engine_message(field: str, text: str) -> str:
    """Return the SettingsError detail, the message without the setting's name, for `text` in `field`."""
    with pytest.raises(SettingsError) as raised:
        settings = GenerationSettings.from_mapping({field: text}, base=ORIGINAL)
        settings.check_context(CONTEXT_SIZE)
    return raised.value.detail


async def test_invalid_values_rejected_inline():
    # One app runs every case, because starting an app costs more than a case.
    app = host()
    async with app.run_test(size=(110, 50)) as pilot:
        screen = settings_screen(app)
        for field, text in INVALID_CASES:
            case = f"{field}={text!r}"
            await set_field(pilot, screen, field, text)

            assert error_text(screen, field) == engine_message(field, text), case
            assert not error_text(screen, field).startswith(f"{field}:"), case
            assert screen.query_one(f"#{field}", Input).has_class("-invalid"), case
            assert getattr(screen.current_settings, field) == getattr(ORIGINAL, field), case

            await pilot.click("#save")
            await pilot.pause()
            assert not app.dismissed, case
            assert screen.query_one(f"#{field}", Input).has_focus, case
            assert str(screen.query_one("#form-error", Static).render()) == FORM_ERROR, case

            await set_field(pilot, screen, field, str(getattr(ORIGINAL, field)))
            assert error_text(screen, field) == "", case
            assert screen.errors == {}, case


async def test_corrected_value_clears_error_and_saves():
    app = host()
    async with app.run_test(size=(110, 50)) as pilot:
        screen = settings_screen(app)
        await set_field(pilot, screen, "top_k", "9.2")
        assert error_text(screen, "top_k") != ""

        await set_field(pilot, screen, "top_k", "9")
        assert error_text(screen, "top_k") == ""
        assert not screen.query_one("#top_k", Input).has_class("-invalid")
        await pilot.click("#save")
        await wait_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert result.settings.top_k == 9


async def test_two_invalid_fields_block_save_until_both_fixed():
    app = host()
    async with app.run_test(size=(110, 50)) as pilot:
        screen = settings_screen(app)
        await set_field(pilot, screen, "top_p", "0")
        await set_field(pilot, screen, "max_new_tokens", "0")
        await set_field(pilot, screen, "top_p", "1")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not app.dismissed
        assert set(screen.errors) == {"max_new_tokens"}
        await pilot.click("#save-default")
        await pilot.pause()
        assert not app.dismissed

        await set_field(pilot, screen, "max_new_tokens", "1023")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert result.settings.top_p == 1.0
    assert result.settings.max_new_tokens == 1023


async def test_max_new_tokens_unchecked_without_context():
    app = host(context_size=None)
    async with app.run_test() as pilot:
        await set_field(pilot, settings_screen(app), "max_new_tokens", "5000")
        await pilot.click("#save")
        await wait_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert result.settings.max_new_tokens == 5000


async def test_saved_value_over_context_flagged_on_open():
    app = host(ORIGINAL.replace(max_new_tokens=4096), context_size=CONTEXT_SIZE)
    async with app.run_test(size=(110, 50)) as pilot:
        screen = settings_screen(app)
        await pilot.pause()

        assert error_text(screen, "max_new_tokens") == engine_message("max_new_tokens", "4096")
        await pilot.click("#save")
        await pilot.pause()
        assert not app.dismissed


async def test_range_hints_shown():
    app = host()
    async with app.run_test(size=(110, 50)) as pilot:
        screen = settings_screen(app)
        await pilot.pause()
        hints = [str(hint.render()) for hint in screen.query(".field-hint").results(Static)]

    assert any("1 to 1023" in hint for hint in hints)
    assert any("4294967295" in hint for hint in hints)
    assert any("at most 1" in hint for hint in hints)
    assert len(hints) == 7


async def test_enter_moves_to_next_field():
    app = host()
    async with app.run_test() as pilot:
        screen = settings_screen(app)
        await pilot.press("enter")
        assert screen.query_one("#top_k", Input).has_focus
        assert not app.dismissed


async def test_control_characters_in_prompt_kept():
    prompt = "line one\n\x1b[2J clear"
    app = host(ORIGINAL.replace(system_prompt=prompt))
    async with app.run_test(size=(110, 50)) as pilot:
        screen = settings_screen(app)
        await pilot.pause()
        prompt_in_editor = screen.query_one("#system_prompt", TextArea).text
        text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.dismissed)

    assert prompt_in_editor == "line one\n^[[2J clear"
    assert "\x1b" not in text
    [result] = app.results
    assert result.settings.system_prompt == prompt
