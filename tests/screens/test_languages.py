"""The screens show zh_CN text once the catalogue is installed."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Label

from termchat.engine import GenerationSettings
from termchat.i18n import LOCALE_DIR, _, set_language
from termchat.tui.screens.sessions import SessionsScreen
from termchat.tui.screens.settings import SettingsScreen
from tests.screens.conftest import ScreenHost, wait_until

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "termchat.mo").exists(),
        reason="termchat/locale/zh_CN/LC_MESSAGES/termchat.mo is not built yet",
    ),
]


async def test_sessions_heading_in_chinese(store):
    assert set_language("zh_CN") == "zh_CN"
    translated = _("Sessions")
    assert translated != "Sessions"

    app = ScreenHost(SessionsScreen(store))
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.hosted.all_loaded)

        assert str(app.screen.query_one("#heading", Label).render()) == translated


async def test_settings_buttons_in_chinese():
    assert set_language("zh_CN") == "zh_CN"
    translated = _("Save as default")
    assert translated != "Save as default"

    app = ScreenHost(SettingsScreen(GenerationSettings(), context_size=1024))
    async with app.run_test() as pilot:
        await pilot.pause()

        assert str(app.screen.query_one("#save-default", Button).label) == translated
