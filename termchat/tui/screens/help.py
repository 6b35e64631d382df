"""A modal listing every key binding the app passes in."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label

from termchat.i18n import _
from termchat.tui.screens._cells import cell
from termchat.tui.widgets.footer import KeyBar


class HelpScreen(ModalScreen[None]):
    """A scrollable table of (key, description, binding id) rows.

    The binding id is the name to use in the `[keys]` table of the config file
    to move an action to another key.
    """

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 100;
        max-width: 95%;
        height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #heading {
        width: 100%;
        text-style: bold;
        padding: 1 0 0 0;
    }
    HelpScreen #remap-hint {
        width: 100%;
        color: $text-muted;
        padding-bottom: 1;
    }
    HelpScreen DataTable {
        height: 1fr;
    }
    HelpScreen Horizontal {
        height: auto;
        align-horizontal: right;
    }
    """

    BINDINGS = [
        Binding("escape,f1,q", "close", _("Close help"), id="help_close"),
    ]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.key_bindings = list(bindings)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(_("Keys"), id="heading")
            yield Label(
                _("To move an action to another key, add a line such as 'regenerate = \"f6\"' "
                  "(binding id = key) to the [keys] table of the config file."),
                id="remap-hint",
                markup=False,
            )
            yield DataTable(cursor_type="row", zebra_stripes=True, id="bindings")
            with Horizontal():
                yield Button(_("Close"), id="close")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#bindings", DataTable)
        table.add_column(_("Key"), key="key")
        table.add_column(_("Action"), key="description")
        table.add_column(_("Binding id"), key="id")
        for key, description, binding_id in self.key_bindings:
            table.add_row(cell(key), cell(description), cell(binding_id))
        table.focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
