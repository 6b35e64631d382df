"""SessionsScreen on a real SQLite store: list, search, open, rename, delete, new and back."""

from __future__ import annotations

import threading

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable, Input, Static

from termchat.store import Store, StoreError, make_title, short_id
from termchat.tui.screens import sessions as sessions_module
from termchat.tui.screens.confirm import ConfirmScreen
from termchat.tui.screens.rename import RenameScreen
from termchat.tui.screens.sessions import (
    FIT_WIDTH,
    MODEL_WIDTH,
    PAGE_SIZE,
    SNIPPET_WIDTH,
    TITLE_WIDTH,
    ColumnWidths,
    NewConversation,
    OpenConversation,
    SessionsScreen,
    format_activity,
)
from tests.screens.conftest import ScreenHost, add_conversation, poll_until, wait_until

pytestmark = pytest.mark.anyio


def sessions_host(store: Store) -> ScreenHost:
    return ScreenHost(SessionsScreen(store))


def sessions_screen(app: ScreenHost) -> SessionsScreen:
    assert isinstance(app.hosted, SessionsScreen)
    return app.hosted


def table(app: ScreenHost, table_id: str = "conversations") -> DataTable:
    return sessions_screen(app).query_one(f"#{table_id}", DataTable)


def column(data_table: DataTable, key: str) -> list[str]:
    """Return the plain text of every cell in the column `key`, top to bottom."""
    return [
        cell.plain if isinstance(cell, Text) else str(cell)
        for cell in (data_table.get_row_at(index)[_column_index(data_table, key)] for index in range(data_table.row_count))
    ]


def _column_index(data_table: DataTable, key: str) -> int:
    return list(data_table.columns).index(key)


def status_text(app: ScreenHost) -> str:
    return str(sessions_screen(app).query_one("#status", Static).render())


async def loaded(pilot, app: ScreenHost) -> None:
    await wait_until(pilot, lambda: sessions_screen(app).all_loaded or len(sessions_screen(app).conversations) > 0)


@pytest.fixture
def three(store: Store):
    """Three conversations; the last one added is the most recently active."""
    old = add_conversation(store, "Old chat", model="gpt2", messages=("hello", "hi there"))
    middle = add_conversation(store, "Recipes", model="distilgpt2", messages=("how do I bake bread",))
    new = add_conversation(store, "Newest", model="gpt2", messages=("a", "b", "c"))
    return old, middle, new


async def test_list_ordered_by_last_activity(store, three, utc):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        conversations = table(app)

        assert column(conversations, "title") == ["Newest", "Recipes", "Old chat"]
        assert column(conversations, "id") == [short_id(new.id), short_id(middle.id), short_id(old.id)]
        assert column(conversations, "model") == ["gpt2", "distilgpt2", "gpt2"]
        assert column(conversations, "messages") == ["3", "1", "2"]
        assert column(conversations, "activity")[0] == format_activity(new.updated_at)
        assert column(conversations, "activity")[0].startswith("2027-01-15 ")
        assert len(short_id(new.id)) == 8


async def test_enter_opens_highlighted(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [OpenConversation(middle.id)]


async def test_n_starts_new_chat(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [NewConversation()]


async def test_escape_goes_back(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [None]


async def test_rename_updates_store_and_row(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        assert app.screen.query_one("#title", Input).value == "Newest"
        # The old title is selected when the input gets focus, so typing replaces it.
        await pilot.press(*"Bread notes")
        await pilot.press("enter")
        await wait_until(pilot, lambda: store.get_conversation(new.id).title == "Bread notes")
        await wait_until(pilot, lambda: column(table(app), "title")[0] == "Bread notes")

        assert app.screen is sessions_screen(app)
        assert not app.dismissed
        assert status_text(app) == "Renamed to 'Bread notes'."


async def test_rename_cancelled_keeps_title(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press(*"Other")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is sessions_screen(app))
        await pilot.app.workers.wait_for_complete()

        assert store.get_conversation(new.id).title == "Newest"
        assert column(table(app), "title")[0] == "Newest"
        assert not app.dismissed


async def test_rename_empty_title_rejected(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press("backspace")
        await pilot.press("enter")
        await pilot.pause()

        assert isinstance(app.screen, RenameScreen)
        error = str(app.screen.query_one("#error", Static).render())
        assert error == "The title is empty. Type a title, or press Esc to cancel."


async def test_delete_confirmed_removes(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("down")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Recipes" in app.screen.question
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: table(app).row_count == 2)

        assert column(table(app), "title") == ["Newest", "Old chat"]
        assert [conversation.id for conversation in store.list_conversations()] == [new.id, old.id]
        assert not app.dismissed


async def test_delete_cancelled_keeps(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        # The cancel button has the focus, so Enter cancels.
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is sessions_screen(app))
        await pilot.app.workers.wait_for_complete()

        assert table(app).row_count == 3
        assert len(store.list_conversations()) == 3


async def test_delete_last_shows_empty_state(store):
    only = add_conversation(store, "Only one", messages=("x",))
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: table(app).row_count == 0)
        await wait_until(pilot, lambda: "No saved conversations" in status_text(app))

    with pytest.raises(StoreError):
        store.get_conversation(only.id)


async def test_empty_store_shows_empty_state(store):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: sessions_screen(app).all_loaded)

        assert table(app).row_count == 0
        assert status_text(app) == "No saved conversations yet. Press n to start a new chat, or Esc to go back."
        await pilot.press("enter")
        await pilot.press("r")
        await pilot.press("d")
        await pilot.pause()
        assert not app.dismissed
        assert app.screen is sessions_screen(app)


async def search_for(pilot, app: ScreenHost, query: str) -> None:
    await pilot.press("slash")
    await pilot.press(*query)
    await wait_until(pilot, lambda: sessions_screen(app).has_class("-searching"))
    await wait_until(pilot, lambda: status_text(app) != "Searching…")


async def test_search_shows_hits_and_opens(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        await search_for(pilot, app, "bread")
        hits = table(app, "hits")

        assert column(hits, "title") == ["Recipes"]
        assert column(hits, "id") == [short_id(middle.id)]
        assert column(hits, "snippet") == ["how do I bake bread"]
        snippet = hits.get_row_at(0)[_column_index(hits, "snippet")]
        highlighted = [snippet.plain[span.start : span.end] for span in snippet.spans if span.style]
        assert highlighted == ["bread"]
        assert not table(app).display

        await pilot.press("enter")
        assert hits.has_focus
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [OpenConversation(middle.id)]


async def test_search_without_hits_says_so(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await search_for(pilot, app, "zebra")

        assert table(app, "hits").row_count == 0
        assert status_text(app) == "No messages match 'zebra'."


async def test_clearing_search_shows_list(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await search_for(pilot, app, "bread")
        sessions_screen(app).query_one("#search", Input).value = ""
        await pilot.pause()

        assert not sessions_screen(app).has_class("-searching")
        assert table(app).display
        assert table(app).row_count == 3


async def test_search_hit_rename_and_delete(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await search_for(pilot, app, "bread")
        await pilot.press("down")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press(*"Baking")
        await pilot.press("enter")
        await wait_until(pilot, lambda: column(table(app, "hits"), "title") == ["Baking"])
        assert store.get_conversation(middle.id).title == "Baking"
        assert column(table(app), "title")[1] == "Baking"

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: table(app, "hits").row_count == 0)
        assert table(app).row_count == 2
        assert len(store.list_conversations()) == 2


class GatedSearchStore:
    """Delegates to a real store; `search` for `slow_query` blocks until `release` is set."""

    def __init__(self, store: Store, slow_query: str) -> None:
        self._store = store
        self.slow_query = slow_query
        self.slow_started = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def search(self, query: str, *args, **kwargs):
        if query == self.slow_query:
            self.slow_started.set()
            assert self.release.wait(10), "test never released the slow search"
        return self._store.search(query, *args, **kwargs)


async def test_older_search_never_overwrites_newer(store, three):
    gated = GatedSearchStore(store, slow_query="hello")
    app = sessions_host(gated)  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        search = sessions_screen(app).query_one("#search", Input)
        search.focus()
        search.value = "hello"
        await pilot.press("enter")
        await poll_until(pilot, gated.slow_started.is_set)

        search.focus()
        search.value = "bread"
        await pilot.press("enter")
        await poll_until(pilot, lambda: column(table(app, "hits"), "title") == ["Recipes"])

        gated.release.set()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert column(table(app, "hits"), "title") == ["Recipes"]


async def test_markup_in_title_shown_literally(store, utc):
    # Each title fits in TITLE_WIDTH, so none is cut.
    titles = ["[bold]x[/bold] a[0] [/] [b x", "[link=https://e.com]x[/link]", "esc \x1b[31mred\x1b[0m"]
    for title in titles:
        add_conversation(store, title, messages=(f"{title} body",))
    app = sessions_host(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await loaded(pilot, app)
        titles_in_table = column(table(app), "title")
        # The rows are drawn on a refresh after they are added; poll the drawn screen until they are.
        for _attempt in range(100):
            screen_text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            if all(text in screen_text for text in ("esc ^[[31mred", titles[1], titles[0])):
                break
            await pilot.pause(0.02)

    assert titles_in_table == ["esc ^[[31mred^[[0m", titles[1], titles[0]]
    assert "[bold]x[/bold] a[0] [/] [b x" in screen_text
    assert "[link=https://e.com]x[/link]" in screen_text
    assert "esc ^[[31mred^[[0m" in screen_text
    assert "\x1b" not in screen_text


async def test_markup_in_snippet_shown_literally(store):
    add_conversation(store, "t", messages=("see [bold]x[/bold] and [red]", "ok"))
    app = sessions_host(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await loaded(pilot, app)
        await search_for(pilot, app, "see")

        assert column(table(app, "hits"), "snippet") == ["see [bold]x[/bold] and [red]"]


class FailingStore:
    """Delegates to a real store, but `list_conversations` or `rename_conversation` raise StoreError."""

    def __init__(self, store: Store, failing: set[str]) -> None:
        self._store = store
        self.failing = failing

    def __getattr__(self, name: str):
        if name in self.failing:
            def fail(*args, **kwargs):
                raise StoreError(f"Could not {name}: the database is locked. Close other programs that use it.")
            return fail
        return getattr(self._store, name)


async def test_list_error_shown_inline(store, three):
    app = sessions_host(FailingStore(store, {"list_conversations"}))  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "locked" in status_text(app))

        assert status_text(app) == (
            "Could not list_conversations: the database is locked. Close other programs that use it."
        )
        assert sessions_screen(app).query_one("#status", Static).has_class("-error")
        assert app.screen is sessions_screen(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [NewConversation()]


async def test_rename_of_vanished_conversation_shows_error(store, three):
    old, middle, new = three
    app = sessions_host(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        # Another termchat deletes the conversation while this list is open.
        store.delete_conversation(new.id)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press(*"Gone")
        await pilot.press("enter")
        await wait_until(pilot, lambda: sessions_screen(app).query_one("#status").has_class("-error"))

        assert new.id[:8] in status_text(app) or "not found" in status_text(app).lower()
        assert app.screen is sessions_screen(app)


async def test_pages_load_as_cursor_nears_end(store):
    store.connection.execute("PRAGMA synchronous = OFF")
    total = 2 * PAGE_SIZE + 17
    for index in range(total):
        store.create_conversation("gpt2", {}, title=f"chat {index}")
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: table(app).row_count == PAGE_SIZE)
        assert not sessions_screen(app).all_loaded

        await pilot.press("end")
        await wait_until(pilot, lambda: table(app).row_count == 2 * PAGE_SIZE)
        await pilot.press("end")
        await wait_until(pilot, lambda: sessions_screen(app).all_loaded)

        assert table(app).row_count == total
        titles = column(table(app), "title")
        assert titles[0] == f"chat {total - 1}"
        assert titles[-1] == "chat 0"
        assert len(set(titles)) == total


class FailOnceStore:
    """Delegates to a real store; the first `list_conversations` call raises StoreError."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls = 0

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def list_conversations(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            raise StoreError("The database is locked by another program. Close it and press F5.")
        return self._store.list_conversations(*args, **kwargs)


async def test_reload_after_error_lists(store, three):
    app = sessions_host(FailOnceStore(store))  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "locked" in status_text(app))
        assert table(app).row_count == 0

        await pilot.press("f5")
        await wait_until(pilot, lambda: table(app).row_count == 3)

        assert status_text(app) == ""
        assert not sessions_screen(app).query_one("#status", Static).has_class("-error")


async def test_reload_shows_outside_changes(store, three):
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        add_conversation(store, "Written by another termchat", messages=("bread again",))
        await search_for(pilot, app, "bread")
        assert len(column(table(app, "hits"), "title")) == 2

        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: table(app).row_count == 4)
        await wait_until(pilot, lambda: sessions_screen(app).has_class("-searching"))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

        assert column(table(app), "title")[0] == "Written by another termchat"
        assert sorted(column(table(app, "hits"), "title")) == ["Recipes", "Written by another termchat"]


async def test_five_thousand_conversations_load_lazily(store):
    store.connection.execute("PRAGMA synchronous = OFF")
    total = 5000
    for index in range(total):
        store.create_conversation("gpt2", {}, title=f"chat {index}")
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: table(app).row_count == PAGE_SIZE)
        await pilot.press("down", "down")

        assert table(app).row_count == PAGE_SIZE
        assert table(app).cursor_row == 2
        assert not sessions_screen(app).all_loaded

        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed)

    [result] = app.results
    assert isinstance(result, OpenConversation)
    assert store.get_conversation(result.conversation_id).title == f"chat {total - 3}"


class CountingSearchStore:
    """Delegates to a real store and records the query of every `search` call."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.queries: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def search(self, query: str, *args, **kwargs):
        self.queries.append(query)
        return self._store.search(query, *args, **kwargs)


async def test_typing_runs_one_search(store, three, monkeypatch):
    # A longer pause than the default keeps this test stable on a busy machine.
    monkeypatch.setattr(sessions_module, "SEARCH_DELAY", 1.0)
    counting = CountingSearchStore(store)
    app = sessions_host(counting)  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        search = sessions_screen(app).query_one("#search", Input)
        for partial in ("b", "br", "bre", "brea", "bread"):
            search.value = partial
        await wait_until(pilot, lambda: counting.queries != [])
        await wait_until(pilot, lambda: column(table(app, "hits"), "title") == ["Recipes"])

    assert counting.queries == ["bread"]


def test_column_widths_share_spare_columns():
    assert ColumnWidths.for_terminal(80) == ColumnWidths()
    assert ColumnWidths.for_terminal(FIT_WIDTH) == ColumnWidths()

    wide = ColumnWidths.for_terminal(FIT_WIDTH + 61)

    assert wide.title + wide.model == TITLE_WIDTH + MODEL_WIDTH + 61
    assert wide.hit_title + wide.snippet == TITLE_WIDTH + SNIPPET_WIDTH + 61
    assert wide.title - TITLE_WIDTH > wide.model - MODEL_WIDTH
    assert wide.snippet - SNIPPET_WIDTH > wide.hit_title - TITLE_WIDTH


async def test_wide_terminal_shows_longer_title(store):
    title = "a very long title that goes on and on about bread and butter and jam"
    conversation = add_conversation(store, title, messages=("x",))
    app = sessions_host(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await loaded(pilot, app)
        [shown_title] = column(table(app), "title")
        line = row_line(app, conversation.id)

    width = ColumnWidths.for_terminal(140).title
    assert shown_title == title[: width - 1] + "…"
    assert format_activity(conversation.updated_at) in line, "the activity column is off-screen"
    assert conversation.model in line, "the model column is off-screen"


async def test_long_title_cut_with_ellipsis(store):
    title = "a very long title that goes on and on about bread and butter"
    add_conversation(store, title, messages=("x",))
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        [shown_title] = column(table(app), "title")

    assert shown_title == title[: TITLE_WIDTH - 1] + "…"


async def test_keymap_moves_new_chat_key(store, three):
    app = sessions_host(store)
    app.set_keymap({"sessions_new": "ctrl+n"})
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        assert not app.dismissed

        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.dismissed)

    assert app.results == [NewConversation()]


CHINESE = "我们今天讨论一下如何在终端里面运行一个小型的语言模型并且把对话保存到数据库里面以便以后查看和搜索" * 2
JAPANESE = "今日はターミナルで小さな言語モデルを動かして会話をデータベースに保存する方法について話しましょう" * 2
EMOJI = "🍞🥖🥐 bread emoji party 🎉🎉🎉 " * 6
LONG_MODEL = "/home/someone/models/SmolLM2-135M-Instruct.Q8_0.gguf"


def screen_lines(app: ScreenHost) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def row_line(app: ScreenHost, conversation_id: str) -> str:
    """Return the drawn line of the row whose ID column shows `conversation_id`, or "" if none."""
    return next((line for line in screen_lines(app) if short_id(conversation_id) in line), "")


@pytest.fixture
def wide_text(store: Store):
    """Conversations whose titles and messages are Chinese, Japanese and emoji text."""
    return [
        add_conversation(store, make_title(CHINESE), model=LONG_MODEL, messages=(CHINESE, "ok")),
        add_conversation(store, make_title(JAPANESE), model="uer/gpt2-chinese-cluecorpussmall", messages=(JAPANESE,)),
        add_conversation(store, make_title(EMOJI), model="gpt2", messages=(EMOJI, "ok", "more")),
    ]


@pytest.mark.parametrize("width", [100, 120])
async def test_wide_text_list_columns_fit(store, wide_text, width):
    app = sessions_host(store)
    async with app.run_test(size=(width, 20)) as pilot:
        await loaded(pilot, app)
        for conversation in wide_text:
            await poll_until(pilot, lambda: row_line(app, conversation.id) != "")

        for conversation in wide_text:
            line = row_line(app, conversation.id)
            assert format_activity(conversation.updated_at) in line
            assert f" {conversation.message_count} " in line
            assert conversation.model[-8:] in line, "the end of the model name is off-screen"


@pytest.mark.parametrize(("width", "query"), [(100, "数据库"), (120, "数据库"), (100, "データベース"), (100, "party")])
async def test_wide_text_search_columns_fit(store, wide_text, width, query):
    app = sessions_host(store)
    async with app.run_test(size=(width, 20)) as pilot:
        await loaded(pilot, app)
        await search_for(pilot, app, query)
        [hit] = store.search(query)
        await poll_until(pilot, lambda: row_line(app, hit.conversation.id) != "")

        line = row_line(app, hit.conversation.id)
        assert format_activity(hit.message.created_at) in line, "the Time column is off-screen"
        snippet = column(table(app, "hits"), "snippet")[0]
        assert query in snippet
        assert cell_len(snippet) <= ColumnWidths.for_terminal(width).snippet


async def test_cjk_title_cut_without_gap(store):
    add_conversation(store, make_title(CHINESE), messages=("x",))
    app = sessions_host(store)
    async with app.run_test() as pilot:
        await loaded(pilot, app)
        [shown_title] = column(table(app), "title")

    # Two-cell characters fill at most TITLE_WIDTH - 1 cells, and the ellipsis takes one more.
    assert shown_title == CHINESE[: (TITLE_WIDTH - 1) // 2] + "…"
    assert cell_len(shown_title) <= TITLE_WIDTH


class GatedListStore:
    """Delegates to a real store; `list_conversations` blocks until `release` is set."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.release = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def list_conversations(self, *args, **kwargs):
        assert self.release.wait(10), "test never released the list"
        return self._store.list_conversations(*args, **kwargs)


def render_widths(data_table: DataTable) -> dict[str, int]:
    return {str(key.value): column.get_render_width(data_table) for key, column in data_table.columns.items()}


async def test_column_widths_fixed_before_rows(store, wide_text):
    gated = GatedListStore(store)
    app = sessions_host(gated)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        empty_list_widths = render_widths(table(app))
        empty_hits_widths = render_widths(table(app, "hits"))

        gated.release.set()
        await loaded(pilot, app)
        await search_for(pilot, app, "数据库")
        # DataTable measures auto-width columns on an idle event after the rows are in.
        await pilot.app.workers.wait_for_complete()
        for _turn in range(5):
            await pilot.pause()

        assert table(app).row_count == len(wide_text)
        assert table(app, "hits").row_count == 1
        assert render_widths(table(app)) == empty_list_widths
        assert render_widths(table(app, "hits")) == empty_hits_widths
