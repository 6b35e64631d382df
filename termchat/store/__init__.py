"""Conversations saved in SQLite as they happen. Imports neither Textual, torch nor the engine.

`open_store()` opens the database in the data directory. A live chat writes
through `ConversationRecorder`, which keeps text in memory when a write fails.
"""

from termchat.store.database import Store, short_id
from termchat.store.errors import StoreError
from termchat.store.models import Conversation, SearchHit, StoredMessage
from termchat.store.opening import open_store
from termchat.store.recorder import ConversationRecorder
from termchat.store.search import fts_query
from termchat.store.text import clean_text, make_title

__all__ = [
    "Conversation",
    "ConversationRecorder",
    "SearchHit",
    "Store",
    "StoreError",
    "StoredMessage",
    "clean_text",
    "fts_query",
    "make_title",
    "open_store",
    "short_id",
]
