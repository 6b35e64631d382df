"""The multi-line input where the user writes a message."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
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
        Binding("enter", "send", _("Send"), id="send", priority=True, show=False),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", _("New line"), id="newline", priority=True, show=False),
    ]

    @dataclass
    class Submitted(Message):
        """The user sent `text`, which the composer has already cleared."""

        composer: Composer
        text: str

        @property
        def control(self) -> Composer:
            return self.composer

    class _Send(Message):
        """Queued behind the key presses that came before Enter; see `action_send`."""

    class _Newline(Message):
        """Queued behind the key presses that came before it; see `action_send`."""

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = placeholder

    # Priority bindings run as soon as the app reads the key, while the
    # characters typed before it may still wait in this widget's message
    # queue (the app falls behind while a model loads). Acting through a
    # message of our own keeps the order, so no typed text is cut off.

    def action_send(self) -> None:
        self.post_message(self._Send())

    def action_newline(self) -> None:
        self.post_message(self._Newline())

    @on(_Send)
    def _send_in_order(self, message: _Send) -> None:
        message.stop()
        text = self.text
        if not text.strip():
            return
        self.clear()
        self.post_message(self.Submitted(self, text))

    @on(_Newline)
    def _insert_newline_in_order(self, message: _Newline) -> None:
        message.stop()
        self.insert("\n")

    def restore(self, text: str) -> None:
        """Put back `text` that could not be sent, before anything typed since."""
        self.load_text(text + self.text)
        self.move_cursor(self.document.end)
