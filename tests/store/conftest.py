"""Fixtures for the store tests: a database in tmp_path and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from termchat.store import Store, open_store


class ManualClock:
    """A clock that advances only when the test calls `advance`, one second per tick by default."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "termchat.db"


@pytest.fixture
def store(database_path: Path, clock: ManualClock) -> Iterator[Store]:
    with open_store(database_path, clock=clock) as opened:
        yield opened
