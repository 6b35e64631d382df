"""The load panel keeps a long model path on one line, and a load error whole."""

from __future__ import annotations

import threading

import pytest

from termchat.config import Config
from termchat.engine import ChatBackend, ModelLoadError, ModelSpec, ProgressCallback
from termchat.store import Store
from termchat.tui.widgets.status_bar import LoadMessage, shorten_middle
from tests.tui.conftest import make_app, wait_until

pytestmark = pytest.mark.anyio

LONG_PATH = "/home/someone/models/a-rather-long-folder-name-for-checkpoints/2026-12/smollm2-135m-instruct-q8_0.gguf"


class SilentLoader:
    """A loader that reports no progress and blocks until the test releases it, then fails."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.released = threading.Event()

    def __call__(self, spec: ModelSpec, progress: ProgressCallback) -> ChatBackend:
        self.started.set()
        self.released.wait()
        raise ModelLoadError(f"Model path '{spec.model}' not found; check the path, or pass a Hub id such as 'gpt2'.")


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("short", 10, "short"),
        ("abcdefghij", 10, "abcdefghij"),
        ("abcdefghijk", 10, "abcd…ghijk"),
        ("/a/b/c/model.gguf", 9, "/a/b…gguf"),
        ("模型目录/模型.gguf", 10, "模型….gguf"),
        ("模型目录/模型.gguf", 8, "模…gguf"),
        ("abc", 0, ""),
    ],
)
def test_shorten_middle_fits_width(text: str, width: int, expected: str) -> None:
    assert shorten_middle(text, width) == expected


async def test_long_model_path_stays_one_line(store: Store) -> None:
    loader = SilentLoader()
    app = make_app(store, loader=loader, config=Config(model=LONG_PATH))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, loader.started.is_set, "the load to start")
        message = app.chat.query_one(LoadMessage)
        await wait_until(pilot, lambda: "Loading" in message.message, "the loading message")
        await pilot.pause()

        shown = str(message.render())
        assert message.size.height == 1
        assert shown.startswith("Loading /home/")
        assert "…" in shown
        assert shown.endswith("q8_0.gguf")

        loader.released.set()
        await wait_until(pilot, lambda: app.load_error is not None, "the load error")
        await pilot.pause()
        assert message.size.height > 1
        assert str(message.render()).endswith("such as 'gpt2'.")
