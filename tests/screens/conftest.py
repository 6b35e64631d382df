"""A host App that pushes one screen, and helpers to wait for its result."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen

from termchat.store import Conversation, Store, open_store

WAIT_SECONDS = 10.0
"""Maximum seconds to wait for a condition. Only a broken screen takes that long."""


class ScreenHost(App[None]):
    """Push `screen` at start and record every value it dismisses with."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.hosted = screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.hosted, self.results.append)

    @property
    def dismissed(self) -> bool:
        return bool(self.results)


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    """Let the app process messages and workers until `condition()` is true.

    Fails after WAIT_SECONDS. Each round waits for running workers, then for
    the messages they posted.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition still false after waiting for the app"
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.01)


async def poll_until(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    """Let the app process messages until `condition()` is true, without waiting for workers.

    For tests that hold a worker blocked on purpose. Fails after WAIT_SECONDS.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition still false after waiting for the app"
        await pilot.pause(0.01)


@pytest.fixture(autouse=True)
def english() -> Any:
    """Run each test in English and restore English afterwards."""
    from termchat.i18n import set_language

    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests (marked `anyio`) on asyncio, the loop Textual uses."""
    return "asyncio"


START_TIME = 1_800_000_000.0
"""2027-01-15 08:00 UTC: every store write in these tests happens at a known time."""


class StepClock:
    """A clock for the store that moves one minute forward on every reading."""

    def __init__(self, start: float = START_TIME) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 60.0
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real store in tmp_path whose timestamps come from a StepClock."""
    with open_store(tmp_path / "termchat.db", clock=StepClock()) as opened:
        yield opened


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Show local times in UTC, so dates on screen do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def add_conversation(
    store: Store, title: str, model: str = "gpt2", messages: tuple[str, ...] = ()
) -> Conversation:
    """Create a conversation with `title`, alternating user and assistant `messages`."""
    conversation = store.create_conversation(model, {}, title=title)
    for index, content in enumerate(messages):
        store.add_message(conversation.id, "user" if index % 2 == 0 else "assistant", content)
    return store.get_conversation(conversation.id)
