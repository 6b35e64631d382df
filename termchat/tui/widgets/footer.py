"""The key binding line at the bottom of a screen, drawn as one widget."""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

from termchat.i18n import _

_ENABLED = Style()
_DISABLED = Style(dim=True)


class _KeySpan(NamedTuple):
    """Position of one key's label on the line, for mouse clicks."""

    start: int
    end: int
    key: str
    enabled: bool


class KeyBar(Widget, can_focus=False):
    """The screen's active key bindings on one line, with the command palette key on the right.

    Textual's Footer mounts one widget per key and rebuilds them all on every
    binding change. On the chat screen that took about 120 of the 270 ms from
    the start of the app's run to its first frame, measured headless. KeyBar
    draws the same keys as one line of text and redraws it when the bindings
    change. Clicking a key presses it, as in the Footer.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;

        .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }

        .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's argument name.
        super().__init__(id=id)
        self._spans: list[_KeySpan] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        self.refresh()

    def _keys(self) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str] | None]:
        """Return (key display, description, key, enabled) for each shown action, and the palette key."""
        app = self.app
        by_action: dict[str, tuple[str, str, str, bool]] = {}
        palette: tuple[str, str] | None = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = (app.get_key_display(binding), key)
            elif binding.show and binding.action not in by_action:
                # Several keys for one action show once, with the first key, as in Textual's Footer.
                by_action[binding.action] = (app.get_key_display(binding), _(binding.description), key, enabled)
        return list(by_action.values()), palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        keys, palette = self._keys()
        width = self.size.width
        tail = Text(end="")
        if palette is not None:
            tail = Text.assemble("│", (f" {palette[0]} ", key_style), (_("palette") + " ", description_style))
        room = max(0, width - tail.cell_len)

        line = Text(no_wrap=True, end="")
        spans: list[_KeySpan] = []
        for key_display, description, key, enabled in keys:
            # A key that does nothing right now is dimmed, as in Textual's Footer.
            extra = _ENABLED if enabled else _DISABLED
            label = Text.assemble((f" {key_display} ", key_style + extra), (f"{description} ", description_style + extra))
            if line.cell_len + label.cell_len > room:
                break  # Keys that do not fit are left out whole, and F1 lists them all.
            spans.append(_KeySpan(line.cell_len, line.cell_len + label.cell_len, key, enabled))
            line.append_text(label)
        if palette is not None:
            line.pad_right(room - line.cell_len)
            spans.append(_KeySpan(room, width, palette[1], True))
            line.append_text(tail)
        self._spans = spans
        return line

    def on_mouse_down(self, event: events.MouseDown) -> None:
        for span in self._spans:
            if span.start <= event.x < span.end:
                if span.enabled:
                    self.app.simulate_key(span.key)
                else:
                    self.app.bell()
                event.stop()
                return
