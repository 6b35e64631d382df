"""Fixtures for pilot tests of the termchat app: a temporary store, fake models, waiting helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from termchat.config import Config
from termchat.engine import ChatBackend, LoadProgress, ModelLoadError, ModelSpec, ProgressCallback
from termchat.engine.fake import FakeBackend
from termchat.store import Store, open_store
from termchat.tui.app import TermchatApp

MAX_PAUSES = 2000


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))
    opened = open_store(tmp_path / "termchat.db")
    yield opened
    opened.close()


def loader_for(backend: ChatBackend) -> Callable[[ModelSpec, ProgressCallback], ChatBackend]:
    """Return a loader that reports one progress step and returns `backend`."""

    def load(spec: ModelSpec, progress: ProgressCallback) -> ChatBackend:
        progress(LoadProgress("load", "Loading weights", 1, 2))
        return backend

    return load


class GatedLoader:
    """A loader that blocks until the test calls `finish()` or `fail()`."""

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self.released = threading.Event()
        self.error: str | None = None
        self.requests: list[ModelSpec] = []

    def __call__(self, spec: ModelSpec, progress: ProgressCallback) -> ChatBackend:
        self.requests.append(spec)
        progress(LoadProgress("download", "Downloading model.safetensors", 10, 100))
        self.released.wait()
        if self.error is not None:
            raise ModelLoadError(self.error)
        return self.backend

    def finish(self) -> None:
        self.released.set()

    def fail(self, message: str) -> None:
        self.error = message
        self.released.set()


def make_app(
    store: Store,
    backend: ChatBackend | None = None,
    *,
    loader: Callable[[ModelSpec, ProgressCallback], ChatBackend] | None = None,
    config: Config | None = None,
    conversation_id: str | None = None,
    config_path: Path | None = None,
) -> TermchatApp:
    if loader is None:
        loader = loader_for(backend if backend is not None else FakeBackend())
    return TermchatApp(
        store=store,
        config=config if config is not None else Config(model="fake"),
        loader=loader,
        conversation_id=conversation_id,
        config_path=config_path,
    )


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str = "condition") -> None:
    """Let the app run until `condition()` is true; fail after MAX_PAUSES event-loop turns."""
    for _ in range(MAX_PAUSES):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"timed out waiting for {what}")


async def wait_for_model(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, TermchatApp)
    await wait_until(pilot, lambda: app.backend is not None or app.load_error is not None, "the model load")


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests (marked `anyio`) on asyncio, the loop Textual uses."""
    return "asyncio"
