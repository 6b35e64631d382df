"""ConfirmScreen, RenameScreen and HelpScreen: dismiss values and literal display."""

from __future__ import annotations

import pytest
from textual.widgets import Button, DataTable, Input, Label, Static

from termchat.tui.screens.confirm import ConfirmScreen
from termchat.tui.screens.help import HelpScreen
from termchat.tui.screens.rename import RenameScreen
from tests.screens.conftest import ScreenHost, wait_until

pytestmark = pytest.mark.anyio


def rendered_text(app: ScreenHost) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("y",), True),
        (("n",), False),
        (("escape",), False),
        (("enter",), False),
        (("tab", "enter"), True),
    ],
)
async def test_confirm_keys(keys, expected):
    app = ScreenHost(ConfirmScreen("Delete it?", "Delete"))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [expected]


async def test_confirm_buttons():
    for button_id, expected in (("#confirm", True), ("#cancel", False)):
        app = ScreenHost(ConfirmScreen("Delete it?", "Delete"))
        async with app.run_test() as pilot:
            await pilot.click(button_id)
            await wait_until(pilot, lambda: app.dismissed)

        assert app.results == [expected]


async def test_confirm_shows_markup_literally():
    question = "Delete '[bold]x[/bold] [link=y]z' \x1b[2J?"
    app = ScreenHost(ConfirmScreen(question, "[red]Delete"))
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        text = rendered_text(app)
        label = str(app.screen.query_one("#confirm", Button).label)

    assert "Delete '[bold]x[/bold] [link=y]z' ^[[2J?" in text
    assert label == "[red]Delete"
    assert "\x1b" not in text


async def test_rename_returns_stripped_title():
    app = ScreenHost(RenameScreen("Old"))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*"  New title  ")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == ["New title"]


async def test_rename_button_submits():
    app = ScreenHost(RenameScreen("Old"))
    async with app.run_test() as pilot:
        app.screen.query_one("#title", Input).value = "[b]New"
        await pilot.click("#rename")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == ["[b]New"]


async def test_rename_unchanged_is_none():
    app = ScreenHost(RenameScreen("Same"))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [None]


async def test_rename_cancel_paths():
    for action in ("escape", "#cancel"):
        app = ScreenHost(RenameScreen("Old"))
        async with app.run_test() as pilot:
            await pilot.press(*"x")
            if action.startswith("#"):
                await pilot.click(action)
            else:
                await pilot.press(action)
            await wait_until(pilot, lambda: app.dismissed)

        assert app.results == [None]


async def test_rename_whitespace_only_rejected():
    app = ScreenHost(RenameScreen("Old"))
    async with app.run_test() as pilot:
        await pilot.press(*"   ")
        await pilot.press("enter")
        await pilot.pause()
        error = app.screen.query_one("#error", Static)

        assert not app.dismissed
        assert str(error.render()) == "The title is empty. Type a title, or press Esc to cancel."
        assert error.display

        await pilot.press("a")
        assert not error.display


async def test_rename_multiline_title_on_one_line():
    app = ScreenHost(RenameScreen("first line\nsecond line"))
    async with app.run_test() as pilot:
        await pilot.pause()

        assert app.screen.query_one("#title", Input).value == "first line second line"


BINDING_ROWS = [
    ("ctrl+q", "Quit", "quit"),
    ("f1", "Help", "help"),
    ("escape", "Stop the [bold]reply[/bold]", "stop"),
]


async def test_help_lists_every_binding():
    app = ScreenHost(HelpScreen(BINDING_ROWS))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#bindings", DataTable)
        rows = [tuple(cell.plain for cell in table.get_row_at(index)) for index in range(table.row_count)]
        text = rendered_text(app)

    assert rows == BINDING_ROWS
    assert "Stop the [bold]reply[/bold]" in text
    assert "regenerate = \"f6\"" in text, "the remap hint is missing"


@pytest.mark.parametrize("key", ["escape", "f1", "q"])
async def test_help_closes(key):
    app = ScreenHost(HelpScreen(BINDING_ROWS))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(key)
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [None]


async def test_help_scrolls_long_list():
    rows = [(f"ctrl+{index}", f"Action {index}", f"action_{index}") for index in range(80)]
    app = ScreenHost(HelpScreen(rows))
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#bindings", DataTable)
        assert table.has_focus
        assert table.max_scroll_y > 0

        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.cursor_row == 79
        assert table.scroll_y == table.max_scroll_y
        assert "Action 79" in rendered_text(app)


async def test_help_heading_label():
    app = ScreenHost(HelpScreen([]))
    async with app.run_test() as pilot:
        await pilot.pause()

        assert str(app.screen.query_one("#heading", Label).render()) == "Keys"


async def test_rename_shows_control_characters_visibly():
    app = ScreenHost(RenameScreen("red \x1b[31mtitle"))
    async with app.run_test() as pilot:
        await pilot.pause()
        value = app.screen.query_one("#title", Input).value
        text = rendered_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed)

    assert value == "red ^[[31mtitle"
    assert "\x1b" not in text
    assert app.results == [None]
