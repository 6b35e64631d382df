"""The saved conversations: list by last activity, full-text search, open, rename, delete, new."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import Worker, WorkerState

from termchat.i18n import _
from termchat.store import Conversation, SearchHit, Store, StoreError, short_id
from termchat.store.database import SHORT_ID_LENGTH
from termchat.tui.screens._cells import cell, cut_around, cut_to_width, one_line
from termchat.tui.screens.confirm import ConfirmScreen
from termchat.tui.screens.rename import RenameScreen
from termchat.tui.text import literal
from termchat.tui.widgets.footer import KeyBar
from termchat.tui.widgets.status_bar import short_model_name, shorten_middle

log = logging.getLogger(__name__)

PAGE_SIZE = 200
"""Conversations fetched per store call; the next page loads as the cursor nears the end."""
PREFETCH_ROWS = 20
"""Rows left below the cursor or the visible area when the next page starts loading."""
SEARCH_DELAY = 0.25
"""Seconds without typing before a search runs, so one search runs per pause, not per key."""
SEARCH_LIMIT = 100
"""Maximum search hits shown."""
# Every column has a fixed width in terminal cells, so the layout does not change
# once rows arrive. With these widths and the cell padding, each table takes 96 cells,
# or 98 with its scrollbar, so it fits a terminal 100 columns wide. Longer text is cut,
# and a column is wider where its translated heading is wider. In a terminal wider
# than FIT_WIDTH, the title, model and snippet columns share the extra cells.
FIT_WIDTH = 100
"""Terminal width in columns that the tables fill with the minimum column widths."""
TITLE_WIDTH = 30
"""Minimum width of the title column, in terminal cells."""
MODEL_WIDTH = 24
"""Minimum width of the model column, in terminal cells. A longer model name loses its middle,
because the end of a path is the file or folder name."""
SNIPPET_WIDTH = 34
"""Minimum width of the search snippet column, in terminal cells."""
SNIPPET_LEAD = 10
"""Cells of text kept before the match when the start of a snippet is cut off."""
MESSAGE_COUNT_WIDTH = 7
"""Width of the message count column in terminal cells, enough for 9,999,999."""

# Private-use code points mark the match in a snippet, because chat text almost never contains them.
SNIPPET_START = "\ue000"
SNIPPET_END = "\ue001"


@dataclass(frozen=True, slots=True)
class OpenConversation:
    """Open the conversation `conversation_id` in the chat screen."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class NewConversation:
    """Start a new conversation."""


SessionsResult = OpenConversation | NewConversation


def format_activity(timestamp: float) -> str:
    """Return a Unix time as a local date and time, to the minute."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def title_cell(title: str, width: int = TITLE_WIDTH) -> Text:
    """Return the title for a table cell, cut to `width` terminal cells with an ellipsis."""
    if not title.strip():
        return Text(_("(untitled)"), style="italic")
    return cut_to_width(cell(title), width)


def model_cell(model: str, width: int = MODEL_WIDTH) -> Text:
    """Return the model name for a table cell, cut in the middle to `width` terminal cells.

    A local model shows its file or folder name, as on the chat screen's
    status line, because its folders would fill the column.
    """
    return Text(shorten_middle(cell(short_model_name(model)).plain, width), end="")


def snippet_cell(snippet: str, width: int = SNIPPET_WIDTH) -> Text:
    """Return a one-line snippet with the text between the match markers highlighted.

    The snippet is cut to `width` terminal cells around its first match,
    because a snippet of 48 Chinese characters is 96 cells wide.
    """
    first, *matches = one_line(snippet).split(SNIPPET_START)
    text = literal(first)
    match_start = len(text) if matches else 0
    for match in matches:
        highlighted, _marker, rest = match.partition(SNIPPET_END)
        text.append_text(literal(highlighted, style="bold reverse"))
        text.append_text(literal(rest))
    return cut_around(text, match_start, width, SNIPPET_LEAD)


@dataclass(frozen=True, slots=True)
class ColumnWidths:
    """Widths in terminal cells of the columns whose text is cut to fit."""

    title: int = TITLE_WIDTH
    model: int = MODEL_WIDTH
    hit_title: int = TITLE_WIDTH
    snippet: int = SNIPPET_WIDTH

    @classmethod
    def for_terminal(cls, columns: int) -> ColumnWidths:
        """Return widths that share the columns past FIT_WIDTH: titles get two thirds in the list, snippets in the hits."""
        spare = max(0, columns - FIT_WIDTH)
        return cls(
            title=TITLE_WIDTH + spare * 2 // 3,
            model=MODEL_WIDTH + spare - spare * 2 // 3,
            hit_title=TITLE_WIDTH + spare // 3,
            snippet=SNIPPET_WIDTH + spare - spare // 3,
        )


def column_width(heading: str, content_width: int) -> int:
    """Return the width of a column in terminal cells: its content's width, or its heading's if wider."""
    return max(cell_len(heading), content_width)


class RowTable(DataTable[Text]):
    """A DataTable whose Home and End keys go to the first and last row, as in a list."""

    BINDINGS = [
        Binding("home", "scroll_top", _("First row"), show=False, id="sessions_first_row"),
        Binding("end", "scroll_bottom", _("Last row"), show=False, id="sessions_last_row"),
    ]


class SessionsScreen(Screen[SessionsResult | None]):
    """Browse saved conversations and dismiss with what to open.

    Dismisses with OpenConversation, NewConversation, or None for back. Every
    store call runs in a thread worker, and a StoreError is shown in the status
    line above the list.
    """

    DEFAULT_CSS = """
    SessionsScreen #heading {
        text-style: bold;
        padding: 0 1;
    }
    SessionsScreen #search {
        margin: 0 1;
    }
    SessionsScreen #status {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    SessionsScreen #status.-error {
        color: $error;
    }
    SessionsScreen #status.-empty {
        display: none;
    }
    SessionsScreen DataTable {
        height: 1fr;
    }
    SessionsScreen #hits {
        display: none;
    }
    SessionsScreen.-searching #hits {
        display: block;
    }
    SessionsScreen.-searching #conversations {
        display: none;
    }
    """

    BINDINGS = [
        Binding("enter", "open", _("Open"), id="sessions_open"),
        Binding("n", "new", _("New chat"), id="sessions_new"),
        Binding("r", "rename", _("Rename"), id="sessions_rename"),
        Binding("d,delete", "delete", _("Delete"), id="sessions_delete"),
        Binding("slash,ctrl+f", "focus_search", _("Search"), id="sessions_search"),
        Binding("f5,ctrl+r", "reload", _("Reload"), id="sessions_reload"),
        Binding("down", "focus_list", _("Go to the list"), show=False, id="sessions_focus_list"),
        Binding("escape", "back", _("Back"), id="sessions_back"),
    ]

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.conversations: dict[str, Conversation] = {}
        """Loaded conversations by id, in list order."""
        self.all_loaded = False
        self._page_loading = False
        self._list_generation = 0
        """Incremented by each reload, so that pages read before it are dropped."""
        self._hit_conversations: dict[str, Conversation] = {}
        """The conversation of each search hit, by hit row key."""
        self._search_timer: Timer | None = None
        self._search_query = ""
        self.widths = ColumnWidths()
        """Widths of the cut columns, set from the terminal's width at mount."""

    def compose(self) -> ComposeResult:
        yield Label(_("Sessions"), id="heading")
        yield Input(placeholder=_("Search all messages"), id="search")
        yield Static("", id="status", classes="-empty", markup=False)
        yield RowTable(cursor_type="row", zebra_stripes=True, id="conversations")
        yield RowTable(cursor_type="row", zebra_stripes=True, id="hits")
        yield KeyBar()

    def on_mount(self) -> None:
        # NOTE: the widths follow the terminal's width when the screen opens. A
        # later resize keeps them, and a table wider than the terminal scrolls.
        self.widths = ColumnWidths.for_terminal(self.app.size.width)
        # Every date and time is written with the same number of digits.
        time_width = cell_len(format_activity(0))
        table = self.query_one("#conversations", DataTable)
        # The model comes last because a GGUF file name can be long.
        for heading, key, content_width in (
            (_("Title"), "title", self.widths.title),
            (_("ID"), "id", SHORT_ID_LENGTH),
            (_("Last activity"), "activity", time_width),
            (_("Messages"), "messages", MESSAGE_COUNT_WIDTH),
            (_("Model"), "model", self.widths.model),
        ):
            table.add_column(heading, key=key, width=column_width(heading, content_width))
        hits = self.query_one("#hits", DataTable)
        for heading, key, content_width in (
            (_("Conversation"), "title", self.widths.hit_title),
            (_("ID"), "id", SHORT_ID_LENGTH),
            (_("Match"), "snippet", self.widths.snippet),
            (_("Time"), "time", time_width),
        ):
            hits.add_column(heading, key=key, width=column_width(heading, content_width))
        self.watch(table, "scroll_y", self._check_scroll_end, init=False)
        table.focus()
        self._page_loading = True
        self._set_status(_("Loading conversations…"))
        self._load_page(0, self._list_generation)

    # Status line

    def _set_status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(literal(message))
        status.set_class(error, "-error")
        status.set_class(not message, "-empty")

    def _show_error(self, error: BaseException) -> None:
        if isinstance(error, StoreError):
            log.warning("Store error on the sessions screen: %s", error)
            self._set_status(str(error), error=True)
        else:
            log.error("Unexpected error on the sessions screen", exc_info=error)
            self._set_status(_("Unexpected error: {error}").format(error=error), error=True)

    def _show_list_state(self) -> None:
        if self.has_class("-searching"):
            return
        if self.conversations:
            self._set_status("")
        elif self.all_loaded:
            self._set_status(_("No saved conversations yet. Press n to start a new chat, or Esc to go back."))

    # Loading pages

    @work(thread=True, group="page", exit_on_error=False)
    def _load_page(self, offset: int, generation: int) -> tuple[int, list[Conversation]]:
        return generation, self.store.list_conversations(limit=PAGE_SIZE, offset=offset)

    def _request_next_page(self) -> None:
        if self.all_loaded or self._page_loading:
            return
        self._page_loading = True
        self._load_page(len(self.conversations), self._list_generation)

    def _add_page(self, generation: int, page: list[Conversation]) -> None:
        # A page read before a reload can arrive after it, because cancelling
        # does not stop a thread that has already returned.
        if generation != self._list_generation:
            return
        table = self.query_one("#conversations", DataTable)
        for conversation in page:
            # A conversation that became active after the previous page was read moves
            # every later row down by one, so the next page can repeat a row.
            if conversation.id in self.conversations:
                continue
            self.conversations[conversation.id] = conversation
            table.add_row(*self._conversation_row(conversation), key=conversation.id)
        self.all_loaded = len(page) < PAGE_SIZE
        self._page_loading = False
        self._show_list_state()

    def _conversation_row(self, conversation: Conversation) -> tuple[Text, ...]:
        return (
            title_cell(conversation.title, self.widths.title),
            Text(short_id(conversation.id)),
            Text(format_activity(conversation.updated_at)),
            Text(str(conversation.message_count), justify="right"),
            model_cell(conversation.model, self.widths.model),
        )

    @on(DataTable.RowHighlighted, "#conversations")
    def _check_cursor_end(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - PREFETCH_ROWS:
            self._request_next_page()

    def _check_scroll_end(self, scroll_y: float) -> None:
        table = self.query_one("#conversations", DataTable)
        if scroll_y + table.size.height >= table.virtual_size.height - PREFETCH_ROWS:
            self._request_next_page()

    # Search

    @on(Input.Changed, "#search")
    def _schedule_search(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        query = event.value.strip()
        if not query:
            self._search_query = ""
            self.workers.cancel_group(self, "search")
            self.remove_class("-searching")
            self._show_list_state()
            return
        self._search_timer = self.set_timer(SEARCH_DELAY, self._start_search)

    @on(Input.Submitted, "#search")
    def _search_now(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        self._start_search()
        self.action_focus_list()

    def _start_search(self) -> None:
        self._search_timer = None
        query = self.query_one("#search", Input).value.strip()
        if not query or query == self._search_query:
            return
        self._search_query = query
        self._set_status(_("Searching…"))
        if self.query_one("#conversations", DataTable).has_focus:
            self.query_one("#hits", DataTable).focus()
        self.add_class("-searching")
        self._search(query)

    @work(thread=True, group="search", exclusive=True, exit_on_error=False)
    def _search(self, query: str) -> tuple[str, list[SearchHit]]:
        hits = self.store.search(query, limit=SEARCH_LIMIT, snippet_start=SNIPPET_START, snippet_end=SNIPPET_END)
        return query, hits

    def _show_hits(self, query: str, hits: list[SearchHit]) -> None:
        # A newer search cancels the older worker, but its thread may already have
        # returned. So the query is compared too, and only the latest one fills the table.
        if query != self._search_query:
            return
        table = self.query_one("#hits", DataTable)
        table.clear()
        self._hit_conversations.clear()
        for hit in hits:
            key = str(hit.message.id)
            self._hit_conversations[key] = hit.conversation
            table.add_row(
                title_cell(hit.conversation.title, self.widths.hit_title),
                Text(short_id(hit.conversation.id)),
                snippet_cell(hit.snippet, self.widths.snippet),
                Text(format_activity(hit.message.created_at)),
                key=key,
            )
        if hits:
            self._set_status("")
        else:
            self._set_status(_("No messages match '{query}'.").format(query=one_line(query)))

    # Worker results

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR:
            if worker.group == "page":
                self._page_loading = False
            if worker.error is not None:
                self._show_error(worker.error)
            return
        if event.state is not WorkerState.SUCCESS:
            return
        if worker.group == "page":
            self._add_page(*worker.result)
        elif worker.group == "search":
            self._show_hits(*worker.result)
        elif worker.group == "rename":
            self._apply_rename(worker.result)
        elif worker.group == "delete":
            self._apply_delete(worker.result)

    # Actions

    def _selected_conversation_id(self) -> str | None:
        """Return the id of the conversation under the cursor of the visible table."""
        if self.has_class("-searching"):
            table = self.query_one("#hits", DataTable)
            if table.row_count == 0:
                return None
            row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            conversation = self._hit_conversations.get(str(row_key.value))
            return conversation.id if conversation is not None else None
        table = self.query_one("#conversations", DataTable)
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(row_key.value)

    def _selected_title(self, conversation_id: str) -> str:
        conversation = self.conversations.get(conversation_id)
        if conversation is not None:
            return conversation.title
        for hit_conversation in self._hit_conversations.values():
            if hit_conversation.id == conversation_id:
                return hit_conversation.title
        return ""

    @on(DataTable.RowSelected)
    def action_open(self) -> None:
        conversation_id = self._selected_conversation_id()
        if conversation_id is not None:
            self.dismiss(OpenConversation(conversation_id))

    def action_new(self) -> None:
        self.dismiss(NewConversation())

    def action_back(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        """Read the list again from the first page, after an error or a change made elsewhere."""
        self.workers.cancel_group(self, "page")
        self._list_generation += 1
        self.conversations.clear()
        self.query_one("#conversations", DataTable).clear()
        self.all_loaded = False
        self._page_loading = True
        self._set_status(_("Loading conversations…"))
        self._load_page(0, self._list_generation)
        if self._search_query:
            # Clearing the last query makes _start_search run the search in the input again.
            self._search_query = ""
            self._start_search()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_list(self) -> None:
        table_id = "#hits" if self.has_class("-searching") else "#conversations"
        self.query_one(table_id, DataTable).focus()

    def action_rename(self) -> None:
        conversation_id = self._selected_conversation_id()
        if conversation_id is None:
            return

        def rename(title: str | None) -> None:
            if title is not None:
                self._rename(conversation_id, title)

        self.app.push_screen(RenameScreen(self._selected_title(conversation_id)), rename)

    @work(thread=True, group="rename", exit_on_error=False)
    def _rename(self, conversation_id: str, title: str) -> Conversation:
        return self.store.rename_conversation(conversation_id, title)

    def _apply_rename(self, renamed: Conversation) -> None:
        conversation_id = renamed.id
        title = renamed.title
        if conversation_id in self.conversations:
            self.conversations[conversation_id] = renamed
            table = self.query_one("#conversations", DataTable)
            table.update_cell(conversation_id, "title", title_cell(title, self.widths.title))
        hits = self.query_one("#hits", DataTable)
        for key, hit_conversation in self._hit_conversations.items():
            if hit_conversation.id == conversation_id:
                self._hit_conversations[key] = renamed
                hits.update_cell(key, "title", title_cell(title, self.widths.hit_title))
        self._set_status(_("Renamed to '{title}'.").format(title=one_line(title)))

    def action_delete(self) -> None:
        conversation_id = self._selected_conversation_id()
        if conversation_id is None:
            return
        title = one_line(self._selected_title(conversation_id)) or _("(untitled)")
        question = _("Delete the conversation '{title}' and all its messages? This cannot be undone.").format(
            title=title
        )

        def delete(confirmed: bool | None) -> None:
            if confirmed:
                self._delete(conversation_id)

        self.app.push_screen(ConfirmScreen(question, _("Delete")), delete)

    @work(thread=True, group="delete", exit_on_error=False)
    def _delete(self, conversation_id: str) -> str:
        self.store.delete_conversation(conversation_id)
        return conversation_id

    def _apply_delete(self, conversation_id: str) -> None:
        if self.conversations.pop(conversation_id, None) is not None:
            self.query_one("#conversations", DataTable).remove_row(conversation_id)
        hits = self.query_one("#hits", DataTable)
        for key, hit_conversation in list(self._hit_conversations.items()):
            if hit_conversation.id == conversation_id:
                hits.remove_row(key)
                del self._hit_conversations[key]
        self._set_status(_("Conversation deleted."))
        if len(self.conversations) < PREFETCH_ROWS:
            self._request_next_page()
        if not self.conversations and self.all_loaded:
            self._show_list_state()
