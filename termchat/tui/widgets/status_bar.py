"""The status line under the composer and the model load progress above it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.geometry import Size
from textual.widgets import Label, Static

from termchat.engine import LoadProgress, ModelInfo

if TYPE_CHECKING:
    from textual.widgets import ProgressBar
from termchat.i18n import _, ngettext
from termchat.tui.text import visible_controls


@dataclass(frozen=True)
class StatusInfo:
    """Model and reply facts for the status bar. Any field may be empty or None."""

    model: str = ""
    device: str = ""
    dtype: str = ""
    tokens_per_second: float | None = None
    """Of the last finished reply."""
    context_used: int | None = None
    """Prompt tokens while a reply streams, then prompt plus reply tokens once it ends."""
    context_size: int | None = None
    turns_dropped: int = 0
    truncated_current: bool = False
    state: str = ""
    """A short phrase such as 'Loading model' or 'Generating'."""

    @classmethod
    def from_model(cls, info: ModelInfo) -> StatusInfo:
        return cls(
            model=short_model_name(info.model_id), device=info.device, dtype=info.dtype, context_size=info.context_size
        )


def short_model_name(model_id: str) -> str:
    """Return the file or folder name of a local model path, or a Hub id unchanged.

    A full path such as /home/me/models/x.gguf would push the other facts off
    the status line.
    """
    path = Path(model_id).expanduser()
    if path.is_absolute() or model_id.startswith((".", "~")) or path.exists():
        return path.name or model_id
    return model_id


def format_status(status: StatusInfo) -> Text:
    """Build the status line: model, device, dtype, tok/s, context use and notices."""
    parts: list[str] = []
    if status.model:
        parts.append(visible_controls(status.model))
    if status.device:
        parts.append(status.device)
    if status.dtype:
        parts.append(status.dtype)
    if status.tokens_per_second is not None:
        parts.append(_("{rate:.1f} tok/s").format(rate=status.tokens_per_second))
    if status.context_size:
        used = status.context_used if status.context_used is not None else 0
        parts.append(_("context {used}/{size}").format(used=used, size=status.context_size))
    if status.state:
        parts.append(status.state)

    line = Text(" · ".join(parts), end="")
    if status.turns_dropped:
        notice = ngettext(
            "{count} older turn left out to fit the context",
            "{count} older turns left out to fit the context",
            status.turns_dropped,
        ).format(count=status.turns_dropped)
        line.append(" · " + notice, style="bold")
    if status.truncated_current:
        line.append(" · " + _("only the end of your message fit the context"), style="bold")
    return line


class StatusBar(Static):
    """One line of model and reply facts at the bottom of the chat screen."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.status = StatusInfo()

    def show_status(self, status: StatusInfo) -> None:
        self.status = status
        self.update(format_status(status))


def shorten_middle(text: str, width: int) -> str:
    """Return `text` cut to `width` terminal cells by replacing its middle with an ellipsis.

    The end keeps the larger half, because the end of a model path is its
    file or folder name.
    """
    if cell_len(text) <= width:
        return text
    if width < 1:
        return ""
    tail_width = width // 2
    head_width = width - 1 - tail_width

    head, used = "", 0
    for character in text:
        used += get_character_cell_size(character)
        if used > head_width:
            break
        head += character
    tail, used = "", 0
    for character in reversed(text):
        used += get_character_cell_size(character)
        if used > tail_width:
            break
        tail = character + tail
    return f"{head}…{tail}"


class LoadMessage(Label):
    """The load panel's text: progress on one line, shortened in the middle, or a wrapped error."""

    DEFAULT_CSS = """
    LoadMessage {
        padding-right: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.message = ""
        self.one_line = True
        """True for progress: a long model path would wrap and push the composer up.
        An error wraps instead, because its end says how to fix it."""

    def show(self, text: str, *, one_line: bool) -> None:
        self.message = visible_controls(text)
        self.one_line = one_line
        self.clear_cached_dimensions()
        self.refresh(layout=True)

    def render(self) -> Text:
        if not self.one_line:
            return Text(self.message, end="")
        line = self.message.replace("\n", " ")
        # The width is 0 before the first layout; the line is cropped there, not wrapped.
        width = self.content_region.width
        return Text(shorten_middle(line, width) if width else line, no_wrap=True, overflow="crop", end="")

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.one_line:
            return 1
        return super().get_content_height(container, viewport, width)


class LoadPanel(Horizontal):
    """Progress bar and message while a model loads; the error line when loading failed.

    The progress bar is mounted when the first progress arrives, after the
    app's first frame, which it would otherwise slow by its CSS and widgets.
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's argument name.
        super().__init__(id=id)
        self._bar: ProgressBar | None = None

    def compose(self) -> ComposeResult:
        yield LoadMessage(id="load-message")

    def show_progress(self, progress: LoadProgress) -> None:
        self.display = True
        self.remove_class("failed")
        self.query_one(LoadMessage).show(progress.description, one_line=True)
        if self._bar is None:
            from textual.widgets import ProgressBar

            self._bar = ProgressBar(total=None, show_eta=False, id="load-bar")
            self.mount(self._bar)
        self._bar.display = True
        self._bar.update(total=progress.total, progress=progress.completed)

    def show_error(self, message: str) -> None:
        self.display = True
        self.add_class("failed")
        self.query_one(LoadMessage).show(message, one_line=False)
        self._stop_bar()

    def hide(self) -> None:
        self.display = False
        self._stop_bar()

    def _stop_bar(self) -> None:
        # An indeterminate bar redraws 15 times a second even while hidden.
        if self._bar is not None:
            self._bar.update(total=1, progress=1)
            self._bar.display = False
