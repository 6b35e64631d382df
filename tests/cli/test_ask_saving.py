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
from termchat.store import ConversationRecorder, open_store
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


def test_run_ask_load_failure_keeps_question(tmp_path):
    def fail(spec):
        raise ModelLoadError("Model folder not found: /nowhere")

    with open_store(tmp_path / "chat.db") as store:
        conversation = store.create_conversation("missing", {})
        recorder = ConversationRecorder(store, conversation.id)
        result = run_ask("question", spec=ModelSpec(), settings=GenerationSettings(), stdout=io.StringIO(),
                         stderr=io.StringIO(), load=fail, recorder=recorder)
        messages = store.messages(conversation.id)
        unanswered = store.unanswered_message(conversation.id)

    assert result.exit_code == EXIT_FAILURE
    assert [(m.role, m.content) for m in messages] == [("user", "question")]
    assert unanswered is not None


def test_run_ask_interrupt_saves_stopped_reply(tmp_path):
    backend = InterruptingBackend(["a", "b", "c", "d"])
    with open_store(tmp_path / "chat.db") as store:
        conversation = store.create_conversation("fake", {})
        recorder = ConversationRecorder(store, conversation.id)
        result = run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=io.StringIO(),
                         stderr=io.StringIO(), load=lambda spec: backend, recorder=recorder)
        messages = store.messages(conversation.id)

    assert result.exit_code == EXIT_INTERRUPTED
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "hi", "complete"),
        ("assistant", "ab", "stopped"),
    ]
    assert messages[1].metadata["stop_reason"] == "cancelled"
