"""A modal with one Input for a conversation's new title."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from termchat.i18n import _
from termchat.tui.screens._cells import one_line
from termchat.tui.text import visible_controls

MAX_TITLE_LENGTH = 200
"""Maximum characters typed in the title input. The sessions list shows only the start."""


class RenameScreen(ModalScreen[str | None]):
    """Ask for a title and dismiss with it stripped, or with None on cancel.

    An empty title is rejected inline, and an unchanged title dismisses with
    None. Control characters in the old title appear in caret notation (ESC as
    `^[`), because an Input would send them to the terminal. Saving the title
    after an edit stores that visible form.
    """

    DEFAULT_CSS = """
    RenameScreen {
        align: center middle;
    }
    RenameScreen > Vertical {
        width: 70;
        max-width: 95%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    RenameScreen #error {
        color: $error;
        height: auto;
    }
    RenameScreen #error.-empty {
        display: none;
    }
    RenameScreen Horizontal {
        width: 100%;
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    RenameScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="rename_cancel"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.current_title = title
        self.shown_title = visible_controls(one_line(title))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(_("New title"))
            yield Input(
                value=self.shown_title,
                max_length=MAX_TITLE_LENGTH,
                select_on_focus=True,
                id="title",
            )
            yield Static("", id="error", classes="-empty", markup=False)
            with Horizontal():
                yield Button(_("Rename"), variant="primary", id="rename")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def _show_error(self, message: str) -> None:
        error = self.query_one("#error", Static)
        error.update(message)
        error.set_class(not message, "-empty")

    @on(Input.Changed, "#title")
    def _clear_error(self) -> None:
        self._show_error("")

    @on(Input.Submitted, "#title")
    @on(Button.Pressed, "#rename")
    def action_rename(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self._show_error(_("The title is empty. Type a title, or press Esc to cancel."))
            return
        if title == self.shown_title.strip():
            self.dismiss(None)
            return
        self.dismiss(title)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
