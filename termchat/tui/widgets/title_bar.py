"""The title line at the top of the chat screen."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from termchat.tui.text import visible_controls


class TitleBar(Widget, can_focus=False):
    """The screen's title and subtitle on one centred line, cut with an ellipsis when too long.

    Textual's Header builds an icon, a title and a clock widget. This one
    line draws the same title as one widget, which is cheaper before the
    app's first frame. The command palette is on Ctrl+P and in the key bar.
    """

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
        text-align: center;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TitleBar > .title-bar--subtitle {
        color: $foreground-muted;
    }
    """
    COMPONENT_CLASSES = {"title-bar--subtitle"}

    def on_mount(self) -> None:
        self.watch(self.screen, "title", self._title_changed)
        self.watch(self.screen, "sub_title", self._title_changed)

    def _title_changed(self) -> None:
        self.refresh()

    def render(self) -> Text:
        title = visible_controls(self.screen.title or "")
        sub_title = visible_controls(self.screen.sub_title or "")
        line = Text(title, end="")
        if sub_title:
            line.append(" — ")
            line.append(sub_title, style=self.get_component_rich_style("title-bar--subtitle"))
        return line
