"""One message of the conversation: a user turn or an assistant reply."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static

from termchat.i18n import N_, _
from termchat.tui.text import literal, visible_controls

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_UNCLOSED_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*)\Z", re.MULTILINE | re.DOTALL)

STATUS_LABELS = {
    "stopped": N_("stopped"),
    "error": N_("error"),
    "streaming": N_("writing…"),
    "queued": N_("queued until the model is ready"),
}


@dataclass
class ChatEntry:
    """A message as the chat screen keeps it, mounted or not."""

    role: str
    content: str
    status: str = "complete"
    """A store status, or `queued` for a user message waiting for the model."""
    message_id: int | None = None
    """Row id in the store; None until it is saved."""
    metadata: dict[str, Any] | None = field(default=None, repr=False)


def last_code_block(text: str) -> str | None:
    """Return the body of the last fenced code block in Markdown `text`, or None."""
    blocks = [match.group(2) for match in _FENCE.finditer(text)]
    if blocks:
        return blocks[-1]
    # A reply stopped in the middle of a code block has an opening fence only.
    unclosed = _UNCLOSED_FENCE.search(text)
    return unclosed.group(2) if unclosed else None


@functools.cache
def shared_parser() -> MarkdownIt:
    """Return one "gfm-like" parser for every reply.

    Textual 8.2.8's Markdown builds a new parser on every streamed append by
    default, which took about 2 ms each. A MarkdownIt parser keeps no state
    between `parse` calls, so one instance serves every widget.
    """
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like")


class ChatMessage(Vertical, can_focus=True):
    """Base widget of a message: a header line and a body."""

    BINDINGS = [Binding("c", "copy_message", _("Copy message"), id="copy_message")]

    def __init__(self, entry: ChatEntry, *, author: str) -> None:
        super().__init__(classes=f"message {entry.role}")
        self.entry = entry
        self.author = author

    def compose(self) -> ComposeResult:
        yield Label(self._header_text(), classes="message-header", markup=False)
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield Static(literal(self.entry.content), classes="message-body", markup=False)

    def _header_text(self) -> str:
        label = STATUS_LABELS.get(self.entry.status)
        if label is None:
            return self.author
        return f"{self.author} · {_(label)}"

    def set_status(self, status: str) -> None:
        self.entry.status = status
        self.set_class(status == "stopped", "stopped")
        self.set_class(status == "error", "error")
        self.set_class(status == "queued", "queued")
        if self.is_mounted:
            self.query_one(".message-header", Label).update(self._header_text())

    def on_mount(self) -> None:
        self.set_status(self.entry.status)

    def action_copy_message(self) -> None:
        self.app.copy_to_clipboard(self.entry.content)
        self.notify(_("Message copied to the clipboard."), markup=False)


class UserMessage(ChatMessage):
    """A user turn, shown as plain text."""

    def __init__(self, entry: ChatEntry) -> None:
        super().__init__(entry, author=_("You"))


class AssistantMessage(ChatMessage):
    """An assistant reply, rendered as Markdown and streamed by `append`."""

    def __init__(self, entry: ChatEntry, *, author: str) -> None:
        super().__init__(entry, author=author)
        self._stream: MarkdownStream | None = None
        self._note: str = ""

    def compose_body(self) -> ComposeResult:
        # Imported here, not at module level: markdown-it takes about 0.13 s to
        # import, and a new conversation's first frame shows no reply.
        from textual.widgets import Markdown

        yield Markdown(visible_controls(self.entry.content), classes="message-body", parser_factory=shared_parser)
        yield Label("", classes="message-note", markup=False)

    @property
    def markdown(self) -> Markdown:
        from textual.widgets import Markdown

        return self.query_one(Markdown)

    async def append(self, text: str) -> None:
        """Add streamed `text` at the end of the reply without re-rendering what is there."""
        if not text:
            return
        self.entry.content += text
        if self._stream is None:
            markdown = self.markdown
            self._stream = markdown.get_stream(markdown)
        await self._stream.write(visible_controls(text))

    async def finish(self, status: str, note: str = "") -> None:
        """Stop streaming, then show the final status and an optional one-line note."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.set_status(status)
        self.set_note(note)

    def set_note(self, note: str) -> None:
        self._note = note
        label = self.query_one(".message-note", Label)
        label.update(literal(note))
        label.display = bool(note)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_note(self._note)
