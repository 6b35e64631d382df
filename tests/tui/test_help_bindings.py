"""The F1 help screen lists the bindings of every screen and modal, after remapping."""

from __future__ import annotations

import pytest
from textual.binding import Binding
from textual.widgets import DataTable

from termchat.config import Config
from termchat.engine.fake import FakeBackend
from termchat.store import Store
from termchat.tui.screens.confirm import ConfirmScreen
from termchat.tui.screens.help import HelpScreen
from termchat.tui.screens.rename import RenameScreen
from termchat.tui.screens.sessions import RowTable, SessionsScreen
from termchat.tui.screens.settings import SettingsScreen
from tests.tui.conftest import make_app, wait_for_model, wait_until

pytestmark = pytest.mark.anyio

SCREEN_BINDINGS = {
    "Sessions": [*SessionsScreen.BINDINGS, *RowTable.BINDINGS],
    "Settings": SettingsScreen.BINDINGS,
    "Help": HelpScreen.BINDINGS,
    "Confirmation": ConfirmScreen.BINDINGS,
    "Rename": RenameScreen.BINDINGS,
}


def notifications(app) -> list[str]:
    return [notification.message for notification in app._notifications]


async def open_help(pilot) -> HelpScreen:
    await pilot.press("f1")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help screen")
    return pilot.app.screen


async def test_help_lists_screen_bindings(store: Store) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test() as pilot:
        help_screen = await open_help(pilot)
        descriptions = {binding_id: description for _key, description, binding_id in help_screen.key_bindings}

        for screen, bindings in SCREEN_BINDINGS.items():
            for binding in bindings:
                assert isinstance(binding, Binding)
                assert binding.id in descriptions, f"{binding.id} missing from the help screen"
                assert descriptions[binding.id] == f"{screen}: {binding.description}"
        assert descriptions["send"] == "Chat: Send"
        assert descriptions["quit"] == "All screens: Quit"


async def test_help_table_shows_group_and_id(store: Store) -> None:
    app = make_app(store, FakeBackend())
    async with app.run_test(size=(120, 60)) as pilot:
        help_screen = await open_help(pilot)
        table = help_screen.query_one("#bindings", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]

        assert ["d, del", "Sessions: Delete", "sessions_delete"] in rows
        assert ["^s", "Settings: Save", "settings_save"] in rows
        assert ["y", "Confirmation: Confirm", "confirm_confirm"] in rows


async def test_help_shows_remapped_screen_key(store: Store) -> None:
    config = Config(model="fake", keys={"sessions_delete": "x", "settings_save": "ctrl+w"})
    app = make_app(store, FakeBackend(), config=config)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)
        assert not any("Unknown binding ids" in text for text in notifications(app))

        help_screen = await open_help(pilot)
        keys = {binding_id: key for key, _description, binding_id in help_screen.key_bindings}

        assert keys["sessions_delete"] == "x"
        assert keys["settings_save"] == "^w"


@pytest.mark.parametrize(
    ("keymap", "expected"),
    [
        ({"regenerate": "ctrl+q"}, ["ctrl+q (Quit, Regenerate)"]),
        ({"stop": "ctrl+o"}, ["ctrl+o (Sessions, Stop reply)"]),
        ({"sessions_delete": "x", "settings_save": "ctrl+w"}, []),
        ({}, []),
    ],
)
def test_keymap_conflicts(store: Store, keymap: dict[str, str], expected: list[str]) -> None:
    app = make_app(store, FakeBackend())

    assert app.keymap_conflicts(keymap) == expected


async def test_key_conflict_reported(store: Store) -> None:
    config = Config(model="fake", keys={"regenerate": "ctrl+q"})
    app = make_app(store, FakeBackend(), config=config)
    async with app.run_test() as pilot:
        await wait_for_model(pilot)

        [notice] = [text for text in notifications(app) if "two actions" in text]
        assert "ctrl+q (Quit, Regenerate)" in notice
