"""Measure the sessions screen with many saved conversations.

Fills a temporary store with --conversations conversations (one in ten gets
a message containing the search word), pushes SessionsScreen onto a host app
in Textual's headless test mode, and reports:

- the time from app start until the first page of rows is in the table,
- the time to append one page of rows to the table (median and max),
- the time for one Down key press to be handled, with one page loaded and
  with every conversation loaded (median of 21 presses, Pilot overhead included),
- the time from Enter in the search box until the hits are in the table, and
  until Pilot reports the key handled (focus moved to the hits, screen repainted).

    PYTHONPATH=. python benchmarks/sessions_screen.py [--conversations 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from termchat.store import Store, open_store
from termchat.tui.screens import sessions
from termchat.tui.screens.sessions import PAGE_SIZE, SessionsScreen

SEARCH_WORD = "walrus"
PRESSES = 21


class Host(App[None]):
    def __init__(self, screen: SessionsScreen) -> None:
        super().__init__()
        self.hosted = screen

    def on_mount(self) -> None:
        self.push_screen(self.hosted)


def fill_store(store: Store, count: int) -> None:
    # Durability is irrelevant for a throwaway database, and skipping fsync keeps setup short.
    store.connection.execute("PRAGMA synchronous = OFF")
    for index in range(count):
        conversation = store.create_conversation("gpt2", {}, title=f"conversation {index}")
        if index % 10 == 0:
            store.add_message(conversation.id, "user", f"message {index} about a {SEARCH_WORD}")


async def wait_for(pilot: Pilot[Any], condition: Any) -> None:
    while not condition():
        await pilot.pause(0.001)


async def median_press_ms(pilot: Pilot[Any], key: str) -> tuple[float, float]:
    timings = []
    for _press in range(PRESSES):
        start = time.perf_counter()
        await pilot.press(key)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings), max(timings)


async def measure(store: Store, count: int) -> None:
    page_timings: list[float] = []
    add_page = SessionsScreen._add_page

    def timed_add_page(self: SessionsScreen, generation: int, page: list[Any]) -> None:
        start = time.perf_counter()
        add_page(self, generation, page)
        page_timings.append((time.perf_counter() - start) * 1000)

    SessionsScreen._add_page = timed_add_page  # type: ignore[method-assign]

    hits_shown_at: list[float] = []
    show_hits = SessionsScreen._show_hits

    def timed_show_hits(self: SessionsScreen, query: str, hits: list[Any]) -> None:
        show_hits(self, query, hits)
        hits_shown_at.append(time.perf_counter())

    SessionsScreen._show_hits = timed_show_hits  # type: ignore[method-assign]
    screen = SessionsScreen(store)
    app = Host(screen)
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        table = screen.query_one("#conversations", DataTable)
        await wait_for(pilot, lambda: table.row_count >= min(PAGE_SIZE, count))
        print(f"app start to first page in the table: {(time.perf_counter() - start) * 1000:.0f} ms")

        median, worst = await median_press_ms(pilot, "down")
        print(f"Down key with {table.row_count} rows: median {median:.0f} ms, max {worst:.0f} ms")

        while not screen.all_loaded:
            await pilot.press("end")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
        median, worst = await median_press_ms(pilot, "up")
        print(f"Up key with {table.row_count} rows: median {median:.0f} ms, max {worst:.0f} ms")
        print(
            f"append one page of {PAGE_SIZE} rows: median {statistics.median(page_timings):.1f} ms, "
            f"max {max(page_timings):.1f} ms over {len(page_timings)} pages"
        )

        hits = screen.query_one("#hits", DataTable)
        search = screen.query_one("#search", Input)
        search.focus()
        await pilot.pause()
        # Enter follows the text at once, so the search normally starts from Enter and
        # not from the debounce timer.
        search.value = SEARCH_WORD
        start = time.perf_counter()
        await pilot.press("enter")
        handled = time.perf_counter()
        await wait_for(pilot, lambda: hits_shown_at != [])
        print(
            f"Enter in search to {hits.row_count} hits in the table: {(hits_shown_at[0] - start) * 1000:.0f} ms, "
            f"to the key handled: {(handled - start) * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000, help="number of conversations to create in the temporary store (default 5000)")
    arguments = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"search limit {sessions.SEARCH_LIMIT}, page size {PAGE_SIZE}")
    with tempfile.TemporaryDirectory() as folder:
        with open_store(Path(folder) / "termchat.db") as store:
            fill_store(store, arguments.conversations)
            print(f"conversations: {arguments.conversations}")
            asyncio.run(measure(store, arguments.conversations))


if __name__ == "__main__":
    main()
