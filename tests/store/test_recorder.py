"""ConversationRecorder: save timing, and faults (disk full, lock held) that must not reach the UI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from termchat.store import ConversationRecorder, Store, open_store

from .conftest import ManualClock


@pytest.fixture
def conversation_id(store: Store) -> str:
    return store.create_conversation("gpt2", {}).id


def saved_contents(store: Store, conversation_id: str) -> list[tuple[str, str, str]]:
    return [(message.role, message.content, message.status) for message in store.messages(conversation_id)]


def test_user_message_saved_at_once(store: Store, conversation_id: str) -> None:
    recorder = ConversationRecorder(store, conversation_id)

    stored = recorder.add_user_message("Hello")

    assert stored is not None
    assert stored.content == "Hello"
    assert saved_contents(store, conversation_id) == [("user", "Hello", "complete")]
    assert recorder.pending is False
    assert recorder.last_error is None


def test_partial_reply_saved_once_per_interval(store: Store, conversation_id: str) -> None:
    clock = ManualClock()
    recorder = ConversationRecorder(store, conversation_id, clock=clock)
    recorder.add_user_message("Hi")
    recorder.start_reply()
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "", "streaming")

    clock.advance(0.4)
    recorder.append_reply("Hel")
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "", "streaming")
    assert recorder.pending is True

    clock.advance(0.6)
    recorder.append_reply("lo")
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "Hello", "streaming")
    assert recorder.pending is False

    clock.advance(0.5)
    recorder.append_reply(" wor")
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "Hello", "streaming")
    assert recorder.reply_text == "Hello wor"

    stored = recorder.finish_reply("Hello world", "complete", {"tokens_out": 2})

    assert stored is not None
    assert stored.metadata == {"tokens_out": 2}
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "Hello world", "complete")
    assert recorder.pending is False


def test_stopped_reply_kept(store: Store, conversation_id: str) -> None:
    recorder = ConversationRecorder(store, conversation_id)
    recorder.add_user_message("Write a poem")
    recorder.start_reply()
    recorder.append_reply("Roses are")

    recorder.finish_reply("Roses are", "stopped", {"stop_reason": "cancelled"})

    assert saved_contents(store, conversation_id)[-1] == ("assistant", "Roses are", "stopped")


def test_misuse_raises(store: Store, conversation_id: str) -> None:
    recorder = ConversationRecorder(store, conversation_id)

    with pytest.raises(RuntimeError):
        recorder.append_reply("x")
    with pytest.raises(RuntimeError):
        recorder.finish_reply("x")
    recorder.start_reply()
    with pytest.raises(RuntimeError):
        recorder.start_reply()
    with pytest.raises(ValueError):
        recorder.finish_reply("x", "streaming")


def fill_disk(store: Store) -> None:
    """Make further growth of the database fail with SQLITE_FULL, as a full disk does."""
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages}")


def free_disk(store: Store) -> None:
    store.connection.execute("PRAGMA max_page_count = 1073741823")


def test_disk_full_keeps_conversation(store: Store, conversation_id: str) -> None:
    clock = ManualClock()
    recorder = ConversationRecorder(store, conversation_id, clock=clock)
    recorder.add_user_message("saved before the disk filled up")
    fill_disk(store)
    big = "x" * 200_000

    assert recorder.add_user_message(big) is None
    assert recorder.pending is True
    error = recorder.last_error
    assert error is not None
    assert error.reason == "full"
    assert "Could not save the message" in str(error)
    assert "full" in str(error)
    assert "\n" not in str(error)

    recorder.start_reply()
    for _ in range(3):
        clock.advance(1.0)
        recorder.append_reply("y" * 50_000)
    assert recorder.finish_reply("final answer " + "y" * 50_000, "complete", {"tokens_out": 9}) is None
    assert recorder.flush() is False
    assert saved_contents(store, conversation_id) == [("user", "saved before the disk filled up", "complete")]

    free_disk(store)

    assert recorder.flush() is True
    assert recorder.pending is False
    assert recorder.last_error is None
    assert saved_contents(store, conversation_id) == [
        ("user", "saved before the disk filled up", "complete"),
        ("user", big, "complete"),
        ("assistant", "final answer " + "y" * 50_000, "complete"),
    ]
    assert store.messages(conversation_id)[-1].metadata == {"tokens_out": 9}


def test_disk_full_mid_stream(store: Store, conversation_id: str) -> None:
    clock = ManualClock()
    recorder = ConversationRecorder(store, conversation_id, clock=clock)
    recorder.add_user_message("question")
    recorder.start_reply()
    clock.advance(1.0)
    recorder.append_reply("early part ")
    fill_disk(store)

    clock.advance(1.0)
    recorder.append_reply("z" * 300_000)

    assert recorder.last_error is not None
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "early part ", "streaming")

    free_disk(store)
    clock.advance(1.0)
    recorder.append_reply("end")

    assert recorder.last_error is None
    assert saved_contents(store, conversation_id)[-1] == ("assistant", "early part " + "z" * 300_000 + "end", "streaming")


def test_next_write_retries(store: Store, conversation_id: str) -> None:
    recorder = ConversationRecorder(store, conversation_id)
    fill_disk(store)
    assert recorder.add_user_message("a" * 100_000) is None
    free_disk(store)

    second = recorder.add_user_message("b")

    assert second is not None
    assert [content for _, content, _ in saved_contents(store, conversation_id)] == ["a" * 100_000, "b"]


def test_locked_database_kept_pending(database_path: Path) -> None:
    with open_store(database_path, busy_timeout=0.05) as store:
        conversation_id = store.create_conversation("gpt2", {}).id
        recorder = ConversationRecorder(store, conversation_id)
        other = sqlite3.connect(database_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")

        stored = recorder.add_user_message("written while another program holds the lock")

        assert stored is None
        assert recorder.last_error is not None
        assert recorder.last_error.reason == "locked"
        assert "locked" in str(recorder.last_error)

        other.execute("COMMIT")
        other.close()

        assert recorder.flush() is True
        assert saved_contents(store, conversation_id) == [
            ("user", "written while another program holds the lock", "complete")
        ]


def test_deleted_conversation_reported(store: Store, conversation_id: str) -> None:
    recorder = ConversationRecorder(store, conversation_id)
    store.delete_conversation(conversation_id)

    assert recorder.add_user_message("anyone there?") is None

    assert recorder.last_error is not None
    assert recorder.last_error.reason == "not_found"
    assert recorder.pending is True
