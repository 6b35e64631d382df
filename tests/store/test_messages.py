"""Messages: writes, streaming replies, paging, deletion and text that is hard to store."""

from __future__ import annotations

import pytest

from termchat.store import Store, StoreError, open_store
from termchat.store.text import clean_text

from .conftest import ManualClock


def test_add_message_round_trip(store: Store, clock: ManualClock) -> None:
    conversation = store.create_conversation("gpt2", {})
    clock.advance()

    added = store.add_message(conversation.id, "user", "Hello")
    loaded = store.messages(conversation.id)

    assert loaded == [added]
    assert added.role == "user"
    assert added.status == "complete"
    assert added.metadata is None
    assert added.created_at == clock.now
    assert store.get_conversation(conversation.id).updated_at == clock.now
    assert store.count_messages(conversation.id) == 1


def test_reply_lifecycle(store: Store, clock: ManualClock) -> None:
    conversation = store.create_conversation("gpt2", {})
    store.add_message(conversation.id, "user", "Hi")
    metadata = {"tokens_in": 5, "tokens_out": 3, "tokens_per_second": 12.5, "stop_reason": "eos",
                "settings": {"temperature": 0.7}}

    reply = store.start_reply(conversation.id)
    assert reply.status == "streaming"
    assert reply.content == ""

    store.update_reply(reply.id, "Hel")
    assert store.messages(conversation.id)[-1].content == "Hel"
    assert store.messages(conversation.id)[-1].status == "streaming"

    clock.advance()
    finished = store.finish_reply(reply.id, "Hello!", "complete", metadata)

    assert finished == store.messages(conversation.id)[-1]
    assert finished.content == "Hello!"
    assert finished.status == "complete"
    assert finished.metadata == metadata
    assert store.get_conversation(conversation.id).updated_at == clock.now


@pytest.mark.parametrize("status", ["stopped", "error"])
def test_interrupted_reply_kept(store: Store, status: str) -> None:
    conversation = store.create_conversation("gpt2", {})
    reply = store.start_reply(conversation.id)

    store.finish_reply(reply.id, "partial", status, {"error": "boom"} if status == "error" else None)

    saved = store.messages(conversation.id)[0]
    assert saved.status == status
    assert saved.content == "partial"


def test_finish_rejects_streaming_status(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    reply = store.start_reply(conversation.id)

    with pytest.raises(StoreError) as caught:
        store.finish_reply(reply.id, "x", "streaming")

    assert caught.value.reason == "invalid"


def test_invalid_role(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})

    with pytest.raises(StoreError) as caught:
        store.add_message(conversation.id, "robot", "beep")

    assert caught.value.reason == "invalid"
    assert "robot" in str(caught.value)


def test_message_for_unknown_conversation(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        store.add_message("0" * 32, "user", "hello")

    assert caught.value.reason == "not_found"


def test_update_deleted_reply(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    reply = store.start_reply(conversation.id)
    store.delete_conversation(conversation.id)

    with pytest.raises(StoreError) as caught:
        store.update_reply(reply.id, "late text")

    assert caught.value.reason == "not_found"


def test_delete_last_turn(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    first = store.add_message(conversation.id, "user", "one")
    question = store.add_message(conversation.id, "user", "two")
    answer = store.add_message(conversation.id, "assistant", "answer")

    store.delete_message(answer.id)
    store.delete_message(question.id)

    assert store.messages(conversation.id) == [first]
    assert store.count_messages(conversation.id) == 1
    assert store.search("answer") == []
    with pytest.raises(StoreError):
        store.delete_message(answer.id)


def test_paging_backwards(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    ids = [store.add_message(conversation.id, "user", f"m{index}").id for index in range(10)]

    newest = store.messages(conversation.id, limit=4)
    older = store.messages(conversation.id, limit=4, before_id=newest[0].id)
    oldest = store.messages(conversation.id, limit=4, before_id=older[0].id)

    assert [message.id for message in newest] == ids[6:]
    assert [message.id for message in older] == ids[2:6]
    assert [message.id for message in oldest] == ids[:2]
    assert store.messages(conversation.id, limit=4, before_id=ids[0]) == []


def test_unanswered_message(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    assert store.unanswered_message(conversation.id) is None

    question = store.add_message(conversation.id, "user", "Still there?")
    assert store.unanswered_message(conversation.id) == question

    store.add_message(conversation.id, "assistant", "Yes.")
    assert store.unanswered_message(conversation.id) is None


HARD_TEXTS = {
    "nul": "before\x00after\x00",
    "rich markup": "[bold]loud[/] and [/] alone, [link=https://example.invalid]x[/link] \\[escaped]",
    "control and emoji": "tab\tbell\x07 esc\x1b[31m red 😀 é\u0301 \u202e rtl",
    "one megabyte": ("0123456789abcdef" * 65536)[:1_048_576],
}


@pytest.mark.parametrize("name", sorted(HARD_TEXTS))
def test_hard_text_exact(store: Store, database_path, name: str) -> None:
    text = HARD_TEXTS[name]
    conversation = store.create_conversation("gpt2", {"system_prompt": text})

    added = store.add_message(conversation.id, "user", text)
    reply = store.start_reply(conversation.id)
    store.update_reply(reply.id, text)
    store.finish_reply(reply.id, text, "complete", {"note": text})
    store.close()

    with open_store(database_path) as reopened:
        messages = reopened.messages(conversation.id)
        settings = reopened.get_conversation(conversation.id).settings

    assert added.content == text
    assert [message.content for message in messages] == [text, text]
    assert messages[1].metadata == {"note": text}
    assert settings == {"system_prompt": text}


def test_lone_surrogates_replaced(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {"system_prompt": "a\udc80"})
    pasted = "high \ud83d alone, low \ude00 alone, pair \ud83d\ude00 joined"

    added = store.add_message(conversation.id, "user", pasted)

    expected = "high \ufffd alone, low \ufffd alone, pair 😀 joined"
    assert added.content == expected
    assert store.messages(conversation.id)[0].content == expected
    assert store.get_conversation(conversation.id).settings == {"system_prompt": "a\ufffd"}
    assert store.get_conversation(conversation.id).title == expected


def test_clean_text_leaves_valid_text() -> None:
    text = "plain \x00 😀 中文"

    assert clean_text(text) is text


REPLY_METADATA = {
    "tokens_in": 42,
    "tokens_out": 7,
    "time_to_first_token": 0.125,
    "tokens_per_second": 18.5,
    "stop_reason": "eos",
    "turns_dropped": 0,
    "context_size": 1024,
    "error": None,
    "settings": {"temperature": 0.7, "top_k": 50, "seed": None, "system_prompt": "Be brief."},
}


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        REPLY_METADATA,
        {"tokens_out": 3},
        {"tokens_in": True, "tokens_out": 2**70, "tokens_per_second": float("inf"), "error": ["a", 1]},
        {"time_to_first_token": 1, "stop_reason": "length", "extra": {"nested": {"deeper": [1, 2.5, None]}}},
        {"error": "CUDA out of memory \ud800", "custom": "x"},
    ],
    ids=["none", "empty", "reply", "one-key", "odd-values", "nested", "surrogate"],
)
def test_metadata_round_trip(store: Store, database_path, metadata) -> None:
    conversation = store.create_conversation("gpt2", {})
    reply = store.start_reply(conversation.id)
    finished = store.finish_reply(reply.id, "text", "complete", metadata)
    added = store.add_message(conversation.id, "assistant", "again", metadata=metadata)
    store.close()

    with open_store(database_path) as reopened:
        loaded = reopened.messages(conversation.id)

    expected = None if metadata is None else clean_metadata(metadata)
    assert finished.metadata == expected
    assert added.metadata == expected
    assert [message.metadata for message in loaded] == [expected, expected]
    for message in loaded:
        for key, value in (expected or {}).items():
            assert type(message.metadata[key]) is type(value), key


def clean_metadata(metadata: dict) -> dict:
    return {key: clean_text(value) if isinstance(value, str) else value for key, value in metadata.items()}


def test_reply_metadata_key_order(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})

    added = store.add_message(conversation.id, "assistant", "x", metadata=REPLY_METADATA)

    assert list(store.messages(conversation.id)[0].metadata) == list(REPLY_METADATA)
    assert list(added.metadata) == list(REPLY_METADATA)


def test_metadata_copies_independent(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {"temperature": 0.5})
    for _ in range(2):
        store.add_message(conversation.id, "assistant", "x", metadata=REPLY_METADATA)

    first, second = store.messages(conversation.id)
    first.metadata["settings"]["temperature"] = 2.0
    first.metadata["tokens_in"] = -1
    store.get_conversation(conversation.id).settings["temperature"] = 9.0

    assert second.metadata == REPLY_METADATA
    assert store.messages(conversation.id)[0].metadata == REPLY_METADATA
    assert store.get_conversation(conversation.id).settings == {"temperature": 0.5}


def test_metadata_must_be_dict(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})

    with pytest.raises(StoreError) as caught:
        store.add_message(conversation.id, "assistant", "x", metadata=["not", "a", "dict"])  # type: ignore[arg-type]

    assert caught.value.reason == "invalid"
