"""The multi-line input where the user writes a message."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from termchat.i18n import _


class Composer(TextArea):
    """A TextArea where Enter sends and Ctrl+J (or Shift+Enter, Alt+Enter) inserts a newline.

    Shift+Enter reaches the app only in terminals that report it, such as
    those that speak the kitty keyboard protocol; Ctrl+J works everywhere.
    Pasted text is inserted whole, newlines included.
    """

    BINDINGS = [
        Binding("enter", "send", _("Send"), id="send", priority=True),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", _("New line"), id="newline", priority=True),
    ]

    @dataclass
    class Submitted(Message):
        """The user asked to send the text in the composer."""

        composer: Composer
        text: str

        @property
        def control(self) -> Composer:
            return self.composer

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = placeholder

    def action_send(self) -> None:
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.insert("\n")
