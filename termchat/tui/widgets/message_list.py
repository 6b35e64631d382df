"""The scrolling list of messages, which mounts only a window of the conversation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.containers import VerticalScroll

from termchat.tui.widgets.chat_message import AssistantMessage, ChatEntry, ChatMessage, UserMessage

PAGE_SIZE = 50
"""Messages mounted when a conversation opens, and added each time the user reaches the top."""


class MessageList(VerticalScroll, can_focus=False):
    """Messages of one conversation, newest at the bottom.

    Only the newest PAGE_SIZE entries are mounted when a conversation is shown;
    scrolling to the top mounts the previous page. The list stays anchored to
    the bottom, so new text is followed only while the user has not scrolled up.
    """

    def __init__(self, *, assistant_name: Callable[[ChatEntry], str], id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[ChatEntry] = []
        self._first_mounted = 0
        self._assistant_name = assistant_name
        self._loading_older = False

    def make_widget(self, entry: ChatEntry) -> ChatMessage:
        if entry.role == "assistant":
            return AssistantMessage(entry, author=self._assistant_name(entry))
        return UserMessage(entry)

    @property
    def mounted_count(self) -> int:
        return len(self.entries) - self._first_mounted

    async def show(self, entries: Sequence[ChatEntry]) -> None:
        """Replace the list with `entries`, mounting only the newest page."""
        await self.remove_children()
        self.entries = list(entries)
        self._first_mounted = max(0, len(self.entries) - PAGE_SIZE)
        widgets = [self.make_widget(entry) for entry in self.entries[self._first_mounted :]]
        if widgets:
            await self.mount_all(widgets)
        self.anchor()

    async def on_mouse_scroll_up(self) -> None:
        # A view that cannot scroll any higher gets no scroll_y change, so load on the wheel itself.
        if self.scroll_y <= 0 and self._first_mounted > 0 and not self._loading_older:
            self._loading_older = True
            await self.mount_older()

    async def add(self, entry: ChatEntry) -> ChatMessage:
        """Append `entry` at the bottom and return its widget."""
        self.entries.append(entry)
        widget = self.make_widget(entry)
        await self.mount(widget)
        return widget

    async def remove_last(self) -> ChatEntry | None:
        """Remove the newest entry and its widget; return the entry."""
        if not self.entries:
            return None
        entry = self.entries.pop()
        widgets = self.query(ChatMessage)
        if widgets:
            await widgets.last().remove()
        self._first_mounted = min(self._first_mounted, len(self.entries))
        return entry

    def last_widget(self) -> ChatMessage | None:
        widgets = self.query(ChatMessage)
        return widgets.last() if widgets else None

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if old_value > 0 and new_value <= 0 and self._first_mounted > 0 and not self._loading_older:
            self._loading_older = True
            self.call_after_refresh(self.mount_older)

    async def mount_older(self) -> int:
        """Mount the page before the oldest mounted message and keep the view where it was."""
        try:
            start = max(0, self._first_mounted - PAGE_SIZE)
            older = self.entries[start : self._first_mounted]
            if not older:
                return 0
            first = self.query(ChatMessage).first() if self.query(ChatMessage) else None
            widgets = [self.make_widget(entry) for entry in older]
            height_before = self.virtual_size.height
            await self.mount_all(widgets, before=first)
            self._first_mounted = start

            def keep_position() -> None:
                self.scroll_to(y=self.virtual_size.height - height_before, animate=False, immediate=True)

            self.call_after_refresh(keep_position)
            return len(widgets)
        finally:
            self._loading_older = False
