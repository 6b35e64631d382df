"""Several processes on one database: concurrent writers, and a writer killed mid-reply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from termchat.store import open_store
from termchat.store.writers import current_writer, writer_is_gone

REPOSITORY = Path(__file__).resolve().parents[2]

# Writes one conversation of `turns` exchanges through a recorder once it reads a
# line on stdin, then prints a JSON report with every error the recorder saw.
CONCURRENT_WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from termchat.store import ConversationRecorder, open_store

    path, label, turns = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = open_store(path)
    conversation = store.create_conversation("gpt2", {"writer": label})
    recorder = ConversationRecorder(store, conversation.id, save_interval=0.0)
    print("ready", flush=True)
    sys.stdin.readline()

    errors = []
    for turn in range(turns):
        recorder.add_user_message(f"{label} question {turn}")
        recorder.start_reply()
        for word in range(3):
            recorder.append_reply(f"{label}-{turn}-{word} ")
        recorder.finish_reply(recorder.reply_text, "complete", {"turn": turn})
        if recorder.last_error is not None:
            errors.append(str(recorder.last_error))
    print(json.dumps({"conversation": conversation.id, "errors": errors, "pending": recorder.pending}), flush=True)
    store.close()
    """
)

# Saves a user message and a partial reply, reports "ready", then blocks until killed.
KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from termchat.store import ConversationRecorder, open_store

    store = open_store(Path(sys.argv[1]))
    conversation = store.create_conversation("gpt2", {})
    recorder = ConversationRecorder(store, conversation.id, save_interval=0.0)
    recorder.add_user_message("first question")
    recorder.start_reply()
    recorder.finish_reply("first answer", "complete")
    recorder.add_user_message("second question")
    recorder.start_reply()
    recorder.append_reply("half of the second ans")
    print("ready", conversation.id, flush=True)
    sys.stdin.readline()
    """
)


def start_python(script: str, *arguments: str) -> subprocess.Popen[str]:
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    return subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def test_two_writers_lose_nothing(database_path: Path) -> None:
    turns = 40
    with open_store(database_path):
        pass  # Create the schema first, so both writers start with the same work.
    writers = [start_python(CONCURRENT_WRITER, str(database_path), label, str(turns)) for label in ("alpha", "beta")]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        outputs = [writer.communicate(timeout=120) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()

    reports = []
    for writer, (stdout, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr
        assert stderr == ""
        reports.append(json.loads(stdout))

    with open_store(database_path) as store:
        for report, label in zip(reports, ("alpha", "beta"), strict=True):
            assert report["errors"] == []
            assert report["pending"] is False
            messages = store.messages(report["conversation"])
            assert len(messages) == 2 * turns
            assert [message.content for message in messages[::2]] == [
                f"{label} question {turn}" for turn in range(turns)
            ]
            assert [message.content for message in messages[1::2]] == [
                "".join(f"{label}-{turn}-{word} " for word in range(3)) for turn in range(turns)
            ]
            assert all(message.status == "complete" for message in messages)


def test_killed_writer_reply_stopped(database_path: Path) -> None:
    writer = start_python(KILLED_WRITER, str(database_path))
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline().split()
        assert line[:1] == ["ready"], writer.stderr.read() if writer.stderr else ""
        conversation_id = line[1]
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL

    with open_store(database_path) as store:
        messages = store.messages(conversation_id)

    assert [(message.role, message.content, message.status) for message in messages] == [
        ("user", "first question", "complete"),
        ("assistant", "first answer", "complete"),
        ("user", "second question", "complete"),
        ("assistant", "half of the second ans", "stopped"),
    ]


def test_live_writer_reply_untouched(database_path: Path) -> None:
    with open_store(database_path) as first:
        conversation = first.create_conversation("gpt2", {})
        reply = first.start_reply(conversation.id)

        # This process is still running, so a second open must not mark its reply.
        with open_store(database_path) as second:
            assert second.get_message(reply.id).status == "streaming"

        first.finish_reply(reply.id, "done", "complete")
        assert first.get_message(reply.id).status == "complete"


def test_writer_liveness_rules() -> None:
    me = current_writer()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    exited_pid = int(finished.stdout)

    assert writer_is_gone(me.pid, me.host, me.started) is False
    assert writer_is_gone(None, None, None) is True
    assert writer_is_gone(me.pid, "some-other-host", me.started) is False
    assert writer_is_gone(exited_pid, me.host, None) is True
    if me.started is not None:
        # Same pid, different start time: the pid was recycled by a new process.
        assert writer_is_gone(me.pid, me.host, me.started - 1) is True
