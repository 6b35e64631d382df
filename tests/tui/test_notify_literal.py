"""Notifications show paths, model names and errors literally, never as Textual markup."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import termchat
from termchat.config import Config
from termchat.engine.fake import FakeBackend
from termchat.store import Store
from tests.tui.conftest import make_app, wait_for_model, wait_until

pytestmark = pytest.mark.anyio

PACKAGE = Path(termchat.__file__).parent


def notify_calls_without_literal_text() -> list[str]:
    """Return `file:line` of every `.notify(...)` call in termchat that does not pass `markup=False`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify"):
                continue
            literal = any(
                keyword.arg == "markup" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                for keyword in node.keywords
            )
            if not literal:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_every_notify_call_is_literal() -> None:
    assert notify_calls_without_literal_text() == []


def toast_texts(app) -> list[str]:
    from textual.widgets._toast import Toast

    return [str(toast.render()) for toast in app.screen.query(Toast)]


@pytest.mark.parametrize("theme", ["[/x]", "[bold]nord"])
async def test_unknown_theme_shown_literally(store: Store, theme: str) -> None:
    app = make_app(store, FakeBackend(), config=Config(model="fake", theme=theme))
    # run_test leaves notifications out unless asked, and they crashed only when drawn.
    async with app.run_test(notifications=True) as pilot:
        await wait_for_model(pilot)
        await wait_until(pilot, lambda: any("Unknown theme" in text for text in toast_texts(app)), "the theme notice")

        [notice] = [text for text in toast_texts(app) if "Unknown theme" in text]
        assert repr(theme) in notice


async def test_unknown_key_id_notice_keeps_table_name(store: Store) -> None:
    app = make_app(store, FakeBackend(), config=Config(model="fake", keys={"foo": "x"}))
    # run_test leaves notifications out unless asked, and they crashed only when drawn.
    async with app.run_test(notifications=True) as pilot:
        await wait_for_model(pilot)
        await wait_until(pilot, lambda: any("foo" in text for text in toast_texts(app)), "the key notice")

        [notice] = [text for text in toast_texts(app) if "foo" in text]
        assert "[keys]" in notice
