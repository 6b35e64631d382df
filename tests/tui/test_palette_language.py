"""The command palette shows Textual's own commands and placeholders in the interface language."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.app import App
from textual.command import CommandInput, CommandList, CommandPalette

from termchat.engine.fake import FakeBackend
from termchat.i18n import LOCALE_DIR, _, set_language
from termchat.store import Store
from tests.tui.conftest import make_app, wait_for_model, wait_until

pytestmark = pytest.mark.anyio

HAS_CATALOGUE = (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "termchat.mo").exists()


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    set_language("en")


def palette_titles(app: App) -> set[str]:
    return {option.hit.text for command_list in app.screen.query(CommandList) for option in command_list.options}


def palette_input_ready(app: App) -> bool:
    return isinstance(app.screen, CommandPalette) and bool(app.screen.query(CommandInput))


async def open_palette(pilot, app) -> set[str]:
    """Press Ctrl+P and return the command titles once every command is listed."""
    expected = {command.title for command in app.get_system_commands(app.chat)} | {_("load MODEL")}
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: palette_input_ready(app), "the command palette")
    await wait_until(pilot, lambda: palette_titles(app) >= expected, "every command in the palette")
    return palette_titles(app)


@pytest.mark.skipif(not HAS_CATALOGUE, reason="the zh_CN catalogue is not compiled")
async def test_palette_chinese_commands(store: Store) -> None:
    assert set_language("zh_CN") == "zh_CN"
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        titles = await open_palette(pilot, app)

        for english, chinese in (("Theme", "主题"), ("Quit", "退出"), ("Keys", "按键"), ("Screenshot", "截图")):
            assert chinese in titles
            assert english not in titles
        assert app.screen.query_one(CommandInput).placeholder == "搜索命令…"


async def test_palette_english_commands(store: Store) -> None:
    set_language("en")
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        titles = await open_palette(pilot, app)

        for english in ("Theme", "Quit", "Keys", "Screenshot", "Maximize"):
            assert english in titles
        assert app.screen.query_one(CommandInput).placeholder == "Search for commands…"


@pytest.mark.skipif(not HAS_CATALOGUE, reason="the zh_CN catalogue is not compiled")
async def test_theme_palette_chinese_placeholder(store: Store) -> None:
    assert set_language("zh_CN") == "zh_CN"
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        app.action_change_theme()
        await wait_until(pilot, lambda: palette_input_ready(app), "the theme palette")

        assert app.screen.query_one(CommandInput).placeholder == "搜索主题…"


async def test_textual_commands_keep_conditions(store: Store) -> None:
    """termchat offers each of Textual's commands exactly when Textual 8.2.8 offers it."""
    set_language("en")
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        screen = app.chat

        def both_titles() -> tuple[set[str], set[str]]:
            textual = {command.title for command in App.get_system_commands(app, screen)}
            ours = {command.title for command in app.get_system_commands(screen)}
            return textual, ours

        app.chat.composer.focus()
        await pilot.pause()
        textual, ours = both_titles()
        assert "Maximize" in textual
        assert textual <= ours
        assert "Minimize" not in ours

        screen.action_maximize()
        await pilot.pause()
        textual, ours = both_titles()
        assert "Minimize" in textual
        assert textual <= ours
        assert "Maximize" not in ours

        screen.action_minimize()
        app.action_show_help_panel()
        await wait_until(pilot, lambda: bool(screen.query("HelpPanel")), "the help panel")
        textual, ours = both_titles()
        assert textual <= ours
        help_texts = {command.help for command in app.get_system_commands(screen) if command.title == "Keys"}
        assert help_texts == {"Hide the keys and widget help panel"}
