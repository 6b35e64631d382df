"""Schema migrations through PRAGMA user_version, from an empty file and from every earlier version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from termchat.store import StoreError, open_store
from termchat.store.schema import CJK_RANGES, MIGRATIONS, SCHEMA_VERSION, migrate
from termchat.store.search import cjk_terms


def build_database(path: Path, version: int) -> None:
    """Create a database at `version` holding one conversation with two messages, as that version stored them."""
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, target=version)
    connection.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at, model, settings) "
        "VALUES ('0123456789abcdef0123456789abcdef', 'Old chat', 1.0, 2.0, 'gpt2', '{\"top_k\":40}')"
    )
    connection.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, status) "
        "VALUES ('0123456789abcdef0123456789abcdef', 'user', 'remember the walrus', 1.5, 'complete')"
    )
    connection.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, status, metadata) "
        "VALUES ('0123456789abcdef0123456789abcdef', 'assistant', 'half a rep', 1.6, 'streaming', "
        "'{\"tokens_out\":3,\"settings\":{\"top_k\":40}}')"
    )
    connection.close()


def user_version(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA user_version").fetchone()[0]
    finally:
        connection.close()


def test_empty_file_gets_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "termchat.db"
    path.touch()

    with open_store(path) as store:
        assert store.list_conversations() == []

    assert user_version(path) == SCHEMA_VERSION


def test_missing_file_and_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "termchat.db"

    with open_store(path):
        pass

    assert path.is_file()
    assert user_version(path) == SCHEMA_VERSION


# The range follows MIGRATIONS, so a new schema version gets its upgrade case
# without a change here, as long as build_database still fits every version.
@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_upgrade_keeps_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "termchat.db"
    build_database(path, version)

    with open_store(path) as store:
        conversation = store.get_conversation("0123456789abcdef0123456789abcdef")
        messages = store.messages(conversation.id)
        hits = store.search("walrus")

    assert user_version(path) == SCHEMA_VERSION
    assert conversation.title == "Old chat"
    assert conversation.settings == {"top_k": 40}
    assert conversation.message_count == 2
    assert [message.content for message in messages] == ["remember the walrus", "half a rep"]
    # A reply that an old version left streaming has no recorded writer, so it counts as interrupted.
    assert messages[1].status == "stopped"
    assert messages[0].metadata is None
    assert messages[1].metadata == {"tokens_out": 3, "settings": {"top_k": 40}}
    assert [hit.message.id for hit in hits] == [messages[0].id]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_upgrade_indexes_cjk_messages(tmp_path: Path, version: int) -> None:
    path = tmp_path / "termchat.db"
    build_database(path, version)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executemany(
        "INSERT INTO messages (conversation_id, role, content, created_at, status) "
        "VALUES ('0123456789abcdef0123456789abcdef', 'user', ?, 1.7, 'complete')",
        [("我想去北京旅游",), ("東京タワーを見たい",)],
    )
    connection.close()

    with open_store(path) as store:
        long_hits = store.search("北京旅游")
        short_hits = store.search("北京")
        japanese_hits = store.search("東京タワー")
        indexed = store.connection.execute("SELECT count(*) FROM messages_cjk_fts").fetchone()[0]

    assert [hit.message.content for hit in long_hits] == ["我想去北京旅游"]
    assert [hit.message.content for hit in short_hits] == ["我想去北京旅游"]
    assert [hit.message.content for hit in japanese_hits] == ["東京タワーを見たい"]
    # The English messages of build_database stay out of the trigram index.
    assert indexed == 2


def test_cjk_ranges_match_sql_condition(tmp_path: Path) -> None:
    # The trigram index contains the messages that the triggers' GLOB condition
    # selects, and search uses that index when cjk_terms finds a CJK character
    # in the query, so both must agree at the edge of every range.
    path = tmp_path / "termchat.db"
    with open_store(path) as store:
        conversation = store.create_conversation("gpt2", {})
        characters = sorted({chr(point) for first, last in CJK_RANGES for point in (first - 1, first, last, last + 1)})
        added = {store.add_message(conversation.id, "user", f"a{character}b").id: character for character in characters}
        indexed = {row[0] for row in store.connection.execute("SELECT rowid FROM messages_cjk_fts")}

    for message_id, character in added.items():
        assert (message_id in indexed) == (cjk_terms(character) is not None), f"U+{ord(character):04X}"


def test_reopen_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "termchat.db"
    with open_store(path) as store:
        store.create_conversation("gpt2", {})

    connection = sqlite3.connect(path, isolation_level=None)
    before = migrate(connection)
    connection.close()

    assert before == SCHEMA_VERSION
    with open_store(path) as store:
        assert len(store.list_conversations()) == 1


def test_newer_schema_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "termchat.db"
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()

    with pytest.raises(StoreError) as caught:
        open_store(path)

    assert str(path) in str(caught.value)
    assert "newer termchat" in str(caught.value)
    assert user_version(path) == SCHEMA_VERSION + 1


def test_upgrade_cases_not_empty() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS)
    assert SCHEMA_VERSION >= 3
