"""`termchat ask` saves its exchange, continues a saved conversation, or saves nothing."""

from __future__ import annotations

import io

import typer
from typer.testing import CliRunner

from termchat.cli import ask as ask_module
from termchat.cli.ask import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, run_ask
from termchat.engine import ChatMessage, GenerationSettings, ModelLoadError, ModelSpec
from termchat.engine.fake import FakeBackend
from termchat.paths import resolve_paths
from termchat.store import ConversationRecorder, StoreError, open_store
from tests.cli.test_ask import InterruptingBackend
from tests.conftest import TRAINED_REPLY

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """termchat"""

    ask_module.register(app)
    return app


def saved_conversations():
    with open_store(resolve_paths().database_file) as store:
        return [(conversation, store.messages(conversation.id)) for conversation in store.list_conversations()]


def test_ask_saves_exchange(tmp_home, trained_gpt2_dir):
    result = runner.invoke(make_app(), ["ask", "--model", str(trained_gpt2_dir), "--temperature", "0", "hi"])

    assert result.exit_code == EXIT_OK, result.stderr
    [(conversation, messages)] = saved_conversations()
    assert conversation.model == str(trained_gpt2_dir)
    assert conversation.settings["temperature"] == 0
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "hi", "complete"),
        ("assistant", TRAINED_REPLY, "complete"),
    ]
    assert messages[1].metadata["stop_reason"] == "turn_marker"
    assert messages[1].metadata["settings"]["temperature"] == 0


def test_ask_no_save_leaves_store_empty(tmp_home, trained_gpt2_dir):
    result = runner.invoke(
        make_app(), ["ask", "--no-save", "--model", str(trained_gpt2_dir), "--temperature", "0", "hi"]
    )

    assert result.exit_code == EXIT_OK, result.stderr
    assert not resolve_paths().database_file.exists()


def test_ask_session_continues_conversation(tmp_home, trained_gpt2_dir):
    app = make_app()
    first = runner.invoke(app, ["ask", "--model", str(trained_gpt2_dir), "--temperature", "0", "hi"])
    assert first.exit_code == EXIT_OK, first.stderr
    [(conversation, _messages)] = saved_conversations()

    # The model and temperature come from the saved conversation, not the command line.
    second = runner.invoke(app, ["ask", "--session", conversation.id[:6], "hi"])

    assert second.exit_code == EXIT_OK, second.stderr
    assert second.stdout == TRAINED_REPLY + "\n"
    [(_conversation, messages)] = saved_conversations()
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]


def test_ask_unknown_session_fails(tmp_home):
    result = runner.invoke(make_app(), ["ask", "--session", "ffffffff", "hi"])

    assert result.exit_code == EXIT_FAILURE
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "ffffffff" in result.stderr


def test_run_ask_sends_history_first(tmp_path):
    backend = FakeBackend(["ok"])
    history = [ChatMessage("user", "earlier"), ChatMessage("assistant", "answer")]

    run_ask("now", spec=ModelSpec(), settings=GenerationSettings(), stdout=io.StringIO(), stderr=io.StringIO(),
            load=lambda spec: backend, history=history)

    assert list(backend.requests[0].messages) == [*history, ChatMessage("user", "now")]


def fail_to_load(spec):
    raise ModelLoadError(f"Model path '{spec.model}' not found; check the path.")


def test_ask_load_failure_saves_nothing(tmp_home, monkeypatch):
    monkeypatch.setattr("termchat.engine.load_backend", fail_to_load)

    result = runner.invoke(make_app(), ["ask", "--model", "/nowhere", "hi"])

    assert result.exit_code == EXIT_FAILURE
    assert "/nowhere" in result.stderr
    assert saved_conversations() == []


def test_ask_load_failure_keeps_session_unchanged(tmp_home, monkeypatch):
    monkeypatch.setattr("termchat.engine.load_backend", lambda spec: FakeBackend(["ok"]))
    first = runner.invoke(make_app(), ["ask", "--model", "fake", "--temperature", "0", "hi"])
    assert first.exit_code == EXIT_OK, first.stderr
    [(before, _messages)] = saved_conversations()

    monkeypatch.setattr("termchat.engine.load_backend", fail_to_load)
    second = runner.invoke(
        make_app(), ["ask", "--session", before.id, "--model", "/nowhere", "--temperature", "1", "again"]
    )

    assert second.exit_code == EXIT_FAILURE
    [(after, messages)] = saved_conversations()
    assert [(m.role, m.content) for m in messages] == [("user", "hi"), ("assistant", "ok")]
    assert after.model == "fake"
    assert after.settings["temperature"] == 0
    assert after.updated_at == before.updated_at


def test_ask_fake_loader_saves_both_messages(tmp_home, monkeypatch):
    monkeypatch.setattr("termchat.engine.load_backend", lambda spec: FakeBackend(["Hel", "lo"]))

    result = runner.invoke(make_app(), ["ask", "--model", "fake", "hi"])

    assert result.exit_code == EXIT_OK, result.stderr
    [(conversation, messages)] = saved_conversations()
    assert conversation.model == "fake"
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "hi", "complete"),
        ("assistant", "Hello", "complete"),
    ]


def test_run_ask_opens_recorder_after_load(tmp_path):
    events = []

    def load(spec):
        events.append("load")
        return FakeBackend(["ok"])

    with open_store(tmp_path / "chat.db") as store:
        def open_recorder():
            events.append("open recorder")
            conversation = store.create_conversation("fake", {})
            return ConversationRecorder(store, conversation.id)

        result = run_ask("question", spec=ModelSpec(), settings=GenerationSettings(), stdout=io.StringIO(),
                         stderr=io.StringIO(), load=load, open_recorder=open_recorder)
        [conversation] = store.list_conversations()
        messages = store.messages(conversation.id)

    assert result.exit_code == EXIT_OK
    assert events == ["load", "open recorder"]
    assert [(m.role, m.content) for m in messages] == [("user", "question"), ("assistant", "ok")]


def test_run_ask_load_failure_skips_recorder(tmp_path):
    opened = []
    stderr = io.StringIO()

    result = run_ask("question", spec=ModelSpec(model="/nowhere"), settings=GenerationSettings(),
                     stdout=io.StringIO(), stderr=stderr, load=fail_to_load,
                     open_recorder=lambda: opened.append(True))

    assert result.exit_code == EXIT_FAILURE
    assert opened == []
    assert stderr.getvalue() == "Model path '/nowhere' not found; check the path.\n"


def test_run_ask_store_failure_stops_before_reply(tmp_path):
    backend = FakeBackend(["never"])

    def open_recorder():
        raise StoreError("The database is locked; close other termchat windows and try again.")

    stdout, stderr = io.StringIO(), io.StringIO()
    result = run_ask("question", spec=ModelSpec(), settings=GenerationSettings(), stdout=stdout, stderr=stderr,
                     load=lambda spec: backend, open_recorder=open_recorder)

    assert result.exit_code == EXIT_FAILURE
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == "The database is locked; close other termchat windows and try again.\n"
    assert backend.requests == []
    assert backend.closed


def test_run_ask_interrupt_saves_stopped_reply(tmp_path):
    backend = InterruptingBackend(["a", "b", "c", "d"])
    with open_store(tmp_path / "chat.db") as store:
        conversation = store.create_conversation("fake", {})
        recorder = ConversationRecorder(store, conversation.id)
        result = run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=io.StringIO(),
                         stderr=io.StringIO(), load=lambda spec: backend, open_recorder=lambda: recorder)
        messages = store.messages(conversation.id)

    assert result.exit_code == EXIT_INTERRUPTED
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "hi", "complete"),
        ("assistant", "ab", "stopped"),
    ]
    assert messages[1].metadata["stop_reason"] == "cancelled"
