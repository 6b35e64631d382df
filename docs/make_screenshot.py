"""Save an SVG screenshot of the chat screen to docs/images/chat.svg.

    PYTHONPATH=. python docs/make_screenshot.py

The reply comes from the scripted FakeBackend, named `scripted-demo` in the
status line, so the picture is the same on every machine and needs no model.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from termchat.config import Config  # noqa: E402
from termchat.engine.fake import FakeBackend  # noqa: E402
from termchat.store import open_store  # noqa: E402
from termchat.tui.app import TermchatApp  # noqa: E402

OUTPUT = ROOT / "docs" / "images" / "chat.svg"
QUESTION = "How do I read a file line by line in Python?"
REPLY = (
    "Open it in a `with` block and loop over the file object:\n\n"
    "```python\n"
    "with open(\"notes.txt\", encoding=\"utf-8\") as file:\n"
    "    for line in file:\n"
    "        print(line.rstrip())\n"
    "```\n\n"
    "The file is closed when the block ends, even after an error."
)


async def capture() -> None:
    store = open_store(Path(tempfile.mkdtemp(prefix="termchat_screenshot_")) / "termchat.db")
    backend = FakeBackend([REPLY], model_id="scripted-demo")
    app = TermchatApp(store=store, config=Config(model="scripted-demo"), loader=lambda spec, progress: backend)
    async with app.run_test(size=(100, 30)) as pilot:
        while app.backend is None:
            await pilot.pause()
        app.chat.composer.load_text(QUESTION)
        await pilot.press("enter")
        while len(app.chat.message_list.entries) < 2 or app.chat.generating:
            await pilot.pause()
        await app.workers.wait_for_complete()
        # The fake backend's speed would be thousands of tokens per second; show none.
        app.chat._set_status(tokens_per_second=None)
        app.chat.composer.cursor_blink = False
        await pilot.pause()
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=OUTPUT.name, path=str(OUTPUT.parent))
    store.close()
    print(f"Saved {OUTPUT}")


if __name__ == "__main__":
    asyncio.run(capture())
