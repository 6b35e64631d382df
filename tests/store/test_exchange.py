"""Export to Markdown and JSON, and JSON import."""

from __future__ import annotations

import json

import pytest

from termchat.store import Store, StoreError
from termchat.store.exchange import describe_settings

from .conftest import ManualClock


@pytest.fixture
def conversation_id(store: Store, clock: ManualClock) -> str:
    conversation = store.create_conversation("gpt2", {"temperature": 0.5, "system_prompt": "Be kind."})
    store.add_message(conversation.id, "user", "Hi [bold]there[/] \x00 😀 " + "long " * 1000)
    clock.advance(0.123456789)
    reply = store.start_reply(conversation.id)
    store.finish_reply(reply.id, "Partial answ", "stopped", {"tokens_out": 4, "stop_reason": "cancelled"})
    return conversation.id


def test_json_round_trip_exact(store: Store, conversation_id: str) -> None:
    exported = store.export_conversation(conversation_id, "json")
    before = store.get_conversation(conversation_id)
    store.delete_conversation(conversation_id)

    imported = store.import_conversation(exported)

    assert imported == before
    assert store.export_conversation(conversation_id, "json") == exported


def test_json_import_twice_rejected(store: Store, conversation_id: str) -> None:
    exported = store.export_conversation(conversation_id, "json")

    with pytest.raises(StoreError) as caught:
        store.import_conversation(exported)

    assert caught.value.reason == "exists"
    assert conversation_id[:8] in str(caught.value)
    assert "--copy" in str(caught.value)
    assert len(store.list_conversations()) == 1


def test_json_import_copy_new_id(store: Store, conversation_id: str) -> None:
    exported = store.export_conversation(conversation_id, "json")

    copy = store.import_conversation(exported, copy=True)

    assert copy.id != conversation_id
    original_messages = store.messages(conversation_id)
    copied_messages = store.messages(copy.id)
    assert [(m.role, m.content, m.status, m.metadata, m.created_at) for m in copied_messages] == [
        (m.role, m.content, m.status, m.metadata, m.created_at) for m in original_messages
    ]
    assert len(store.search("answ")) == 2


def test_json_content(store: Store, conversation_id: str) -> None:
    document = json.loads(store.export_conversation(conversation_id, "json"))

    assert document["format"] == "termchat-conversation"
    assert document["version"] == 1
    assert document["conversation"]["id"] == conversation_id
    assert document["conversation"]["settings"] == {"temperature": 0.5, "system_prompt": "Be kind."}
    assert [message["role"] for message in document["messages"]] == ["user", "assistant"]
    assert document["messages"][1]["status"] == "stopped"
    assert document["messages"][1]["metadata"]["tokens_out"] == 4


def test_streaming_imported_as_stopped(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    store.start_reply(conversation.id)
    exported = store.export_conversation(conversation.id, "json")
    store.delete_conversation(conversation.id)

    store.import_conversation(exported)

    assert store.messages(conversation.id)[0].status == "stopped"


def test_markdown_export(store: Store, conversation_id: str) -> None:
    text = store.export_conversation(conversation_id, "md")

    assert text.startswith("# Hi [bold]there[/]")
    assert "## User" in text
    assert "## Assistant" in text
    assert "Be kind." in text
    assert "Partial answ\n\n*Status: stopped*" in text
    assert "temperature = 0.5" in text


def test_unknown_format(store: Store, conversation_id: str) -> None:
    with pytest.raises(StoreError) as caught:
        store.export_conversation(conversation_id, "html")  # type: ignore[arg-type]

    assert caught.value.reason == "invalid"


def _valid_document() -> dict:
    return {
        "format": "termchat-conversation",
        "version": 1,
        "conversation": {"id": "a" * 32, "title": "t", "created_at": 1.0, "updated_at": 2.0,
                         "model": "gpt2", "settings": {}},
        "messages": [{"role": "user", "content": "x", "created_at": 1.5, "status": "complete",
                      "metadata": None}],
    }


def _broken(path: list, value: object) -> str:
    document = _valid_document()
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("not json {", "not valid JSON"),
        ("[]", "format"),
        (_broken(["format"], "other"), "format"),
        (_broken(["version"], 99), "99"),
        (_broken(["conversation", "id"], "XYZ"), "conversation.id"),
        (_broken(["conversation", "created_at"], "yesterday"), "conversation.created_at"),
        (_broken(["conversation", "settings"], []), "conversation.settings"),
        (_broken(["messages", 0, "role"], "robot"), "messages[0].role"),
        (_broken(["messages", 0, "status"], "done"), "messages[0].status"),
        (_broken(["messages", 0, "content"], None), "messages[0].content"),
        (_broken(["messages", 0, "metadata"], [1]), "messages[0].metadata"),
        (_broken(["messages", 0], "text"), "messages[0]"),
    ],
)
def test_import_rejects_invalid(store: Store, text: str, named: str) -> None:
    with pytest.raises(StoreError) as caught:
        store.import_conversation(text)

    message = str(caught.value)
    assert caught.value.reason == "invalid"
    assert named in message
    assert "\n" not in message
    assert store.list_conversations() == []


def test_import_valid_document(store: Store) -> None:
    imported = store.import_conversation(json.dumps(_valid_document()))

    assert imported.id == "a" * 32
    assert imported.message_count == 1
    assert imported.updated_at == 2.0


def test_settings_described_without_prompt() -> None:
    settings = {"temperature": 0.5, "seed": None, "system_prompt": "Be brief.", "top_k": 40}

    assert describe_settings(settings) == "temperature = 0.5, seed = random, top_k = 40"


def test_settings_keep_chosen_seed() -> None:
    assert describe_settings({"seed": 7}) == "seed = 7"
