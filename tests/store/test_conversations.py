"""Conversations: creation, lookup by id prefix, activity order, rename, delete, settings."""

from __future__ import annotations

import pytest

from termchat.store import Store, StoreError
from termchat.store.text import make_title

from .conftest import ManualClock


def test_create_and_get(store: Store, clock: ManualClock) -> None:
    settings = {"temperature": 0.2, "top_p": 0.9, "system_prompt": "Be brief."}

    created = store.create_conversation("gpt2", settings)
    loaded = store.get_conversation(created.id)

    assert loaded == created
    assert len(created.id) == 32
    assert created.model == "gpt2"
    assert created.settings == settings
    assert created.title == ""
    assert created.created_at == clock.now
    assert created.updated_at == clock.now
    assert created.message_count == 0


def test_get_unknown_id(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        store.get_conversation("f" * 32)

    assert caught.value.reason == "not_found"
    assert "f" * 32 in str(caught.value)


def test_latest_is_by_activity(store: Store, clock: ManualClock) -> None:
    older = store.create_conversation("gpt2", {})
    clock.advance()
    newer = store.create_conversation("gpt2", {})
    assert store.latest_conversation() == store.get_conversation(newer.id)

    clock.advance()
    store.add_message(older.id, "user", "back to the first one")

    latest = store.latest_conversation()
    assert latest is not None
    assert latest.id == older.id


def test_latest_when_empty(store: Store) -> None:
    assert store.latest_conversation() is None


def test_list_order_limit_offset(store: Store, clock: ManualClock) -> None:
    ids = []
    for _ in range(5):
        ids.append(store.create_conversation("gpt2", {}).id)
        clock.advance()
    clock.advance()
    store.add_message(ids[1], "user", "activity")

    listed = [conversation.id for conversation in store.list_conversations()]
    page = [conversation.id for conversation in store.list_conversations(limit=2, offset=1)]

    assert listed == [ids[1], ids[4], ids[3], ids[2], ids[0]]
    assert page == [ids[4], ids[3]]


def test_resolve_full_id_and_prefix(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})

    assert store.resolve_conversation(conversation.id).id == conversation.id
    assert store.resolve_conversation(conversation.id[:6]).id == conversation.id
    assert store.resolve_conversation(conversation.id[:6].upper()).id == conversation.id


def test_resolve_ambiguous_lists_candidates(store: Store) -> None:
    first = store.import_conversation(_export_with_id(store, "abc" + "0" * 29))
    second = store.import_conversation(_export_with_id(store, "abc" + "1" * 29))
    store.rename_conversation(first.id, "First chat")
    store.rename_conversation(second.id, "Second chat")

    with pytest.raises(StoreError) as caught:
        store.resolve_conversation("abc")

    message = str(caught.value)
    assert caught.value.reason == "ambiguous"
    assert "abc00000" in message
    assert "abc11111" in message
    assert "First chat" in message
    assert "Second chat" in message
    assert "\n" not in message


@pytest.mark.parametrize("bad", ["", "   ", "xyz", "ab%", "a_"])
def test_resolve_rejects_non_hex(store: Store, bad: str) -> None:
    store.create_conversation("gpt2", {})

    with pytest.raises(StoreError) as caught:
        store.resolve_conversation(bad)

    assert caught.value.reason == "invalid"


def test_resolve_unknown_prefix(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    unused = "0" if not conversation.id.startswith("0") else "1"

    with pytest.raises(StoreError) as caught:
        store.resolve_conversation(unused)

    assert caught.value.reason == "not_found"
    assert repr(unused) in str(caught.value)


def test_first_user_message_sets_title(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    text = "How do I reverse a linked list in Python without using extra memory for a second list?"

    store.add_message(conversation.id, "system", "You are helpful.")
    store.add_message(conversation.id, "user", text)
    store.add_message(conversation.id, "user", "Second question")

    title = store.get_conversation(conversation.id).title
    assert title == make_title(text)
    assert title == "How do I reverse a linked list in Python without using…"
    assert len(title) <= 60


def test_given_title_is_kept(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {}, title="Named")

    store.add_message(conversation.id, "user", "Hello")

    assert store.get_conversation(conversation.id).title == "Named"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short one", "Short one"),
        ("  line one\n\nline   two  ", "line one line two"),
        ("x" * 100, "x" * 59 + "…"),
        ("你好" * 40, "你好" * 29 + "你…"),
        ("", ""),
    ],
)
def test_make_title_cases(text: str, expected: str) -> None:
    assert make_title(text) == expected


def test_rename_is_not_activity(store: Store, clock: ManualClock) -> None:
    conversation = store.create_conversation("gpt2", {})
    clock.advance()

    renamed = store.rename_conversation(conversation.id, "  New name  ")

    assert renamed.title == "New name"
    assert renamed.updated_at == conversation.updated_at


def test_rename_unknown(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        store.rename_conversation("0" * 32, "x")

    assert caught.value.reason == "not_found"


def test_delete_removes_messages(store: Store) -> None:
    kept = store.create_conversation("gpt2", {})
    deleted = store.create_conversation("gpt2", {})
    store.add_message(kept.id, "user", "keep me")
    store.add_message(deleted.id, "user", "delete me")

    store.delete_conversation(deleted.id)

    assert [conversation.id for conversation in store.list_conversations()] == [kept.id]
    assert store.messages(deleted.id) == []
    assert store.search("delete") == []
    assert [hit.message.content for hit in store.search("keep")] == ["keep me"]
    with pytest.raises(StoreError):
        store.delete_conversation(deleted.id)


def test_update_settings_is_activity(store: Store, clock: ManualClock) -> None:
    conversation = store.create_conversation("gpt2", {"temperature": 0.7})
    clock.advance()

    updated = store.update_conversation_settings(conversation.id, "distilgpt2", {"temperature": 0.1})

    assert updated.model == "distilgpt2"
    assert updated.settings == {"temperature": 0.1}
    assert updated.updated_at == clock.now


def test_unserialisable_settings(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        store.create_conversation("gpt2", {"bad": object()})

    assert caught.value.reason == "invalid"
    assert store.list_conversations() == []


def _export_with_id(store: Store, conversation_id: str) -> str:
    """Return a JSON export of an empty conversation whose id is `conversation_id`."""
    return (
        '{"format": "termchat-conversation", "version": 1, "conversation": {"id": "%s", '
        '"title": "", "created_at": 1.0, "updated_at": 1.0, "model": "gpt2", "settings": {}}, '
        '"messages": []}' % conversation_id
    )
