"""Command palette entries that take an argument typed after the command's name."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from termchat.i18n import _

if TYPE_CHECKING:
    from termchat.tui.app import TermchatApp

_LOAD_REQUEST = re.compile(r"^\s*load\s+(\S.*)$", re.IGNORECASE)


class LoadModelCommands(Provider):
    """`load MODEL` in the command palette loads a Hub id, a model folder or a .gguf file."""

    @property
    def termchat(self) -> TermchatApp:
        return self.app  # type: ignore[return-value]

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            _("load MODEL"),
            self._explain,
            help=_("Type 'load ' and a Hub id, a model folder or a .gguf file"),
        )

    async def search(self, query: str) -> Hits:
        request = _LOAD_REQUEST.match(query)
        if request is not None:
            model = request.group(1).strip()
            if model:
                yield Hit(
                    100,
                    _("Load model {model}").format(model=model),
                    partial(self.termchat.action_load_model, model),
                    text=_("Load model {model}").format(model=model),
                    help=_("Replaces the current model once it has loaded"),
                )
                return
        matcher = self.matcher(query)
        title = _("load MODEL")
        score = matcher.match(title)
        if score > 0:
            yield Hit(score, matcher.highlight(title), self._explain, text=title)

    def _explain(self) -> None:
        self.app.notify(
            _("Open the command palette and type 'load ' followed by a model id, folder or .gguf file."),
            markup=False,
        )
