"""`termchat sessions` commands against a database in a temporary TERMCHAT_HOME."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from termchat.cli import _register_commands
from termchat.cli import app as cli_app
from termchat.store import Store, open_store

if not any(group.name == "sessions" for group in cli_app.registered_groups):
    _register_commands()

REPOSITORY = Path(__file__).resolve().parents[2]
runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 60.0
        return self.now


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("TERMCHAT_HOME", str(folder))
    return folder


@pytest.fixture
def store(home: Path) -> Store:
    opened = open_store(clock=Clock())
    yield opened
    opened.close()


def invoke(*arguments: str, input: str | None = None) -> Result:
    return runner.invoke(cli_app, ["sessions", *arguments], input=input)


def make_conversation(store: Store, first_message: str, reply: str = "", model: str = "gpt2") -> str:
    conversation = store.create_conversation(model, {"temperature": 0.5, "system_prompt": "Be brief."})
    store.add_message(conversation.id, "user", first_message)
    if reply:
        store.add_message(conversation.id, "assistant", reply)
    return conversation.id


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_by_last_activity(store: Store) -> None:
    oldest = make_conversation(store, "first chat")
    middle = make_conversation(store, "second chat")
    newest = make_conversation(store, "third chat")
    store.add_message(oldest, "user", "new activity in the first chat")

    result = invoke("list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "LAST", "ACTIVITY", "MESSAGES", "MODEL", "TITLE"]
    assert [line.split()[0] for line in lines[1:]] == [oldest[:8], newest[:8], middle[:8]]
    assert lines[1].endswith("first chat")
    assert lines[1].split()[3] == "2"


def test_list_shows_local_model_by_name(store: Store) -> None:
    make_conversation(store, "gguf chat", model="/models/deep/folder/SmolLM2-135M.Q4_1.gguf")
    make_conversation(store, "hub chat", model="HuggingFaceTB/SmolLM2-135M-Instruct")

    result = invoke("list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "/models/deep/folder" not in result.stdout
    assert lines[1].split()[4] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert lines[2].split()[4] == "SmolLM2-135M.Q4_1.gguf"


def test_list_limit(store: Store) -> None:
    for index in range(5):
        make_conversation(store, f"chat {index}")

    result = invoke("list", "--limit", "2")

    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 3


def test_list_limit_must_be_positive(store: Store) -> None:
    result = invoke("list", "--limit", "0")

    assert result.exit_code == 2


def test_list_empty(home: Path) -> None:
    result = invoke("list")

    assert result.exit_code == 0
    assert "No saved conversations yet" in result.stdout


def test_show_by_prefix(store: Store) -> None:
    conversation_id = make_conversation(store, "Show [bold]this[/] exactly", "Here [/] it is")
    reply = store.start_reply(conversation_id)
    store.finish_reply(reply.id, "cut sho", "stopped")

    result = invoke("show", conversation_id[:6])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Show [bold]this[/] exactly\n")
    assert f"ID: {conversation_id}" in out
    assert "Model: gpt2" in out
    assert "Settings: temperature = 0.5" in out
    assert "System prompt: Be brief." in out
    assert "Show [bold]this[/] exactly" in out
    assert "Here [/] it is" in out
    assert "Assistant (stopped)" in out
    assert out.index("Here [/] it is") < out.index("cut sho")


def test_show_escapes_controls(store: Store) -> None:
    conversation_id = make_conversation(store, "plain", "colour \x1b[31mred\x1b[0m and nul \x00 end")

    result = invoke("show", conversation_id)

    assert "\x1b" not in result.stdout
    assert "\x00" not in result.stdout
    assert "colour \\x1b[31mred\\x1b[0m and nul \\x00 end" in result.stdout


def test_unknown_prefix_fails(store: Store) -> None:
    conversation_id = make_conversation(store, "only one")
    unused = "0" if not conversation_id.startswith("0") else "1"

    for command in (["show", unused], ["rename", unused, "x"], ["delete", unused, "--yes"], ["export", unused]):
        result = invoke(*command)
        assert_one_line_error(result, repr(unused))
        assert result.exit_code == 1


def test_unknown_id_logs_warning(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    make_conversation(store, "only one")

    result = invoke("show", "zzzz")

    assert result.exit_code == 1
    records = [record for record in caplog.records if record.name == "termchat.cli.sessions"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info is None
    assert "zzzz" in records[0].getMessage()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_ambiguous_prefix_lists_candidates(store: Store) -> None:
    for suffix, title in (("1", "Alpha"), ("2", "Beta")):
        document = {
            "format": "termchat-conversation",
            "version": 1,
            "conversation": {"id": "beef" + suffix * 28, "title": title, "created_at": 1.0,
                             "updated_at": 1.0, "model": "gpt2", "settings": {}},
            "messages": [],
        }
        store.import_conversation(json.dumps(document))

    result = invoke("show", "bee")

    assert_one_line_error(result, "beef1111", "beef2222", "Alpha", "Beta")


def test_search(store: Store) -> None:
    make_conversation(store, "How do I bake sourdough bread?", "Feed the starter first.")
    make_conversation(store, "Tell me about trains")

    result = invoke("search", "starter")
    missing = invoke("search", "zeppelin")
    syntax = invoke("search", '"starter AND (-*')

    assert result.exit_code == 0
    assert "How do I bake sourdough bread?" in result.stdout
    assert "Assistant: Feed the starter first." in result.stdout
    assert missing.exit_code == 0
    assert "No message matches 'zeppelin'" in missing.stdout
    assert syntax.exit_code == 0


def test_rename(store: Store) -> None:
    conversation_id = make_conversation(store, "old title")

    result = invoke("rename", conversation_id[:5], "New title")
    blank = invoke("rename", conversation_id[:5], "   ")

    assert result.exit_code == 0
    assert store.get_conversation(conversation_id).title == "New title"
    assert_one_line_error(blank, "empty")
    assert store.get_conversation(conversation_id).title == "New title"


def test_delete_asks_first(store: Store) -> None:
    conversation_id = make_conversation(store, "keep or not", "reply")

    declined = invoke("delete", conversation_id, input="n\n")
    assert declined.exit_code == 1
    assert "Delete conversation" in declined.stdout
    assert "2 messages" in declined.stdout
    assert "Nothing was deleted" in declined.stderr
    assert store.get_conversation(conversation_id).message_count == 2

    no_input = invoke("delete", conversation_id, input="")
    assert no_input.exit_code != 0
    assert store.get_conversation(conversation_id).message_count == 2

    accepted = invoke("delete", conversation_id, input="y\n")
    assert accepted.exit_code == 0
    assert store.list_conversations() == []


def test_delete_yes_skips_question(store: Store) -> None:
    conversation_id = make_conversation(store, "delete me")

    result = invoke("delete", conversation_id[:4], "--yes")

    assert result.exit_code == 0
    assert "Delete conversation" not in result.stdout
    assert store.list_conversations() == []


def test_export_stdout(store: Store) -> None:
    conversation_id = make_conversation(store, "Export \x1b[1mme\x1b[0m [b]", "Done 😀")

    markdown = runner.invoke(cli_app, ["sessions", "export", conversation_id[:6]])
    as_json = invoke("export", conversation_id[:6], "--format", "json")

    assert markdown.exit_code == 0
    assert markdown.stdout == store.export_conversation(conversation_id, "md")
    assert as_json.exit_code == 0
    assert as_json.stdout == store.export_conversation(conversation_id, "json")
    assert json.loads(as_json.stdout)["messages"][0]["content"] == "Export \x1b[1mme\x1b[0m [b]"


def test_export_to_file(store: Store, tmp_path: Path) -> None:
    conversation_id = make_conversation(store, "to a file")
    target = tmp_path / "out.md"

    result = invoke("export", conversation_id, "--format", "md", "-o", str(target))
    failed = invoke("export", conversation_id, "-o", str(tmp_path / "missing" / "out.md"))

    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == store.export_conversation(conversation_id, "md")
    assert_one_line_error(failed, "missing", "-o")


def test_export_rejects_format(store: Store) -> None:
    conversation_id = make_conversation(store, "x")

    result = invoke("export", conversation_id, "--format", "html")

    assert result.exit_code == 2
    assert "'html' is not one of md, json." in result.stderr
    assert "Value error" not in result.stderr


def test_export_format_ignores_case(store: Store) -> None:
    conversation_id = make_conversation(store, "x")

    result = invoke("export", conversation_id, "--format", "JSON")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("{")


def test_import_round_trip(store: Store, tmp_path: Path) -> None:
    conversation_id = make_conversation(store, "round trip \x00 [/] \ud800", "answer")
    exported = tmp_path / "chat.json"
    assert invoke("export", conversation_id, "--format", "json", "-o", str(exported)).exit_code == 0
    original = exported.read_text(encoding="utf-8")
    assert invoke("delete", conversation_id, "--yes").exit_code == 0

    result = invoke("import", str(exported))

    assert result.exit_code == 0, result.output
    assert "2 messages" in result.stdout
    again = invoke("export", conversation_id, "--format", "json")
    assert again.stdout == original


def test_import_twice(store: Store, tmp_path: Path) -> None:
    conversation_id = make_conversation(store, "twice")
    exported = tmp_path / "chat.json"
    exported.write_text(store.export_conversation(conversation_id, "json"), encoding="utf-8")

    rejected = invoke("import", str(exported))
    copied = invoke("import", str(exported), "--copy")

    assert_one_line_error(rejected, str(exported), "already exists", "--copy")
    assert copied.exit_code == 0
    assert len(store.list_conversations()) == 2


def test_import_bad_files(home: Path, tmp_path: Path) -> None:
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello", encoding="utf-8")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")

    assert_one_line_error(invoke("import", str(not_json)), str(not_json), "not valid JSON")
    assert_one_line_error(invoke("import", str(binary)), str(binary), "UTF-8")
    assert_one_line_error(invoke("import", str(tmp_path / "absent.json")), "absent.json")


def test_import_from_stdin(store: Store) -> None:
    conversation_id = make_conversation(store, "piped")
    text = store.export_conversation(conversation_id, "json")
    store.delete_conversation(conversation_id)

    result = invoke("import", "-", input=text)

    assert result.exit_code == 0, result.output
    assert store.get_conversation(conversation_id).title == "piped"


def test_corrupt_database_one_line(home: Path) -> None:
    home.mkdir(parents=True)
    database = home / "termchat.db"
    database.write_text("not a database")

    result = invoke("list")

    assert_one_line_error(result, str(database), "not a readable SQLite file")
    assert database.read_text() == "not a database"


def test_data_dir_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "unused"))
    chosen = tmp_path / "chosen"
    with open_store(chosen / "termchat.db") as store:
        make_conversation(store, "lives in the chosen folder")

    result = runner.invoke(cli_app, ["--data-dir", str(chosen), "sessions", "list"])

    assert result.exit_code == 0, result.output
    assert "lives in the chosen folder" in result.stdout


def test_sessions_import_light(home: Path) -> None:
    script = (
        "import sys\n"
        "from termchat.cli import main\n"
        "sys.argv = ['termchat', 'sessions', 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [name for name in ('torch', 'transformers', 'textual') if name in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)),
        timeout=60,
    )

    assert "heavy: []" in result.stdout, result.stdout + result.stderr
