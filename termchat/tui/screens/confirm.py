"""A yes/no modal, used before anything that cannot be undone."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from termchat.i18n import _
from termchat.tui.text import literal


class ConfirmScreen(ModalScreen[bool]):
    """Ask `question` and dismiss with True for the confirm button, False otherwise.

    The cancel button has the focus at first, so pressing Enter by reflex never
    confirms a delete.
    """

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 60;
        max-width: 90%;
        height: auto;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    ConfirmScreen #question {
        width: 100%;
        margin-bottom: 1;
    }
    ConfirmScreen Horizontal {
        width: 100%;
        height: auto;
        align-horizontal: right;
    }
    ConfirmScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("escape,n", "cancel", _("Cancel"), id="confirm_cancel"),
        Binding("y", "confirm", _("Confirm"), id="confirm_confirm"),
    ]

    def __init__(self, question: str, confirm_label: str) -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal(self.question), id="question")
            with Horizontal():
                yield Button(literal(self.confirm_label), variant="error", id="confirm")
                yield Button(_("Cancel"), variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
