"""Screenshot of the chat screen, compared with pytest-textual-snapshot.

Update it after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
The status line's tokens per second is set by the test, and the cursor does
not blink, so every run draws the same screen.
"""

from __future__ import annotations

from textual.widgets import TextArea

from termchat.engine.fake import FakeBackend
from tests.tui.conftest import make_app, wait_for_model, wait_until

SIZE = (100, 32)
REPLY = (
    "Sure. In Python:\n\n"
    "```python\n"
    "def greet(name: str) -> str:\n"
    "    return f\"你好, {name}!\"\n"
    "```\n\n"
    "Markup such as [bold]this[/bold] stays as typed."
)


def test_chat_screen_snapshot(snap_compare, store):
    backend = FakeBackend([REPLY], model_id="demo-model")
    app = make_app(store, backend)

    async def chatted(pilot):
        await wait_for_model(pilot)
        app.chat.composer.load_text("Write a greeting function. a[0] [/] [bold x")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.message_list.entries) == 2 and not app.chat.generating)
        await pilot.app.workers.wait_for_complete()
        app.chat._set_status(tokens_per_second=42.0)
        app.chat.composer.load_text("写一首关于终端的诗")
        for widget in app.screen.query(TextArea):
            widget.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=chatted)
