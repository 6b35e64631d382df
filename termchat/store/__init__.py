"""Conversations saved in SQLite as they happen. Imports neither Textual, torch nor the engine.

`open_store()` opens the database in the data directory. A live chat writes
through `ConversationRecorder`, which keeps text in memory when a write fails.

Each name below is imported from its module on first use, so that importing
`StoreError` or `make_title` does not load the whole package: the chat app
opens the database only after its first frame.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from termchat.store.database import Store, short_id
    from termchat.store.errors import StoreError
    from termchat.store.models import Conversation, SearchHit, StoredMessage
    from termchat.store.opening import open_store
    from termchat.store.recorder import ConversationRecorder
    from termchat.store.search import fts_query
    from termchat.store.text import clean_text, make_title

_MODULE_OF = {
    "Conversation": "models",
    "ConversationRecorder": "recorder",
    "SearchHit": "models",
    "Store": "database",
    "StoreError": "errors",
    "StoredMessage": "models",
    "clean_text": "text",
    "fts_query": "search",
    "make_title": "text",
    "open_store": "opening",
    "short_id": "database",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"termchat.store.{module}"), name)
    globals()[name] = value
    return value
