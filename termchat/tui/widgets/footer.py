"""The key binding footer, rebuilt at most once per refresh."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class BindingsFooter(Footer):
    """Textual's Footer, but binding changes that arrive together rebuild it once.

    Textual 8.2.8's Footer schedules a full recompose (one widget per key) for
    every binding change. The chat screen's start-up made three changes, and
    so three rebuilds, in a headless test; with this class it made two.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._recompose_pending = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_pending = False
        await self.recompose()
