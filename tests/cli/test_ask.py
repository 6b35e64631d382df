"""`termchat ask`: stdout holds only the reply, errors are one line, exit codes."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import typer
from typer.testing import CliRunner

from termchat.cli import ask as ask_module
from termchat.cli.ask import EXIT_BROKEN_PIPE, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, read_prompt, run_ask
from termchat.engine import GenerationSettings, ModelLoadError, ModelSpec, ReplyStream, StopReason
from termchat.engine.fake import FakeBackend
from tests.conftest import TRAINED_REPLY

runner = CliRunner()


@pytest.fixture
def cli_app(tmp_home):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """termchat"""

    ask_module.register(app)
    return app


def invoke(app, args, stdin=None):
    return runner.invoke(app, ["ask", *args], input=stdin)


class InterruptingStream(ReplyStream):
    """Wraps a fake stream and raises KeyboardInterrupt after two deltas, as Ctrl+C does."""

    def __init__(self, inner):
        self.inner = inner
        self.plan = inner.plan
        self.returned = 0

    @property
    def reply(self):
        return self.inner.reply

    def __next__(self):
        if self.returned == 2:
            raise KeyboardInterrupt
        self.returned += 1
        return next(self.inner)

    def close(self):
        self.inner.close()


class InterruptingBackend(FakeBackend):
    def stream(self, messages, settings, cancel=None):
        self.cancel = cancel
        return InterruptingStream(super().stream(messages, settings, cancel))


class ClosedPipe(io.StringIO):
    """stdout whose reader went away after the first write."""

    def write(self, text):
        if self.getvalue():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


# run_ask with a fake backend -----------------------------------------------


def test_run_ask_writes_only_reply():
    stdout, stderr = io.StringIO(), io.StringIO()
    result = run_ask(
        "hi",
        spec=ModelSpec(model="fake"),
        settings=GenerationSettings(),
        stdout=stdout,
        stderr=stderr,
        load=lambda spec: FakeBackend(["Hel", "lo"]),
    )

    assert result.exit_code == EXIT_OK
    assert stdout.getvalue() == "Hello\n"
    assert stderr.getvalue() == ""
    assert result.reply.text == "Hello"


def test_run_ask_sends_prompt_and_settings():
    backend = FakeBackend(["x"])
    settings = GenerationSettings(temperature=0, system_prompt="Be brief.")
    run_ask("the question", spec=ModelSpec(), settings=settings, stdout=io.StringIO(), stderr=io.StringIO(),
            load=lambda spec: backend)

    request = backend.requests[0]
    assert [message.content for message in request.messages] == ["the question"]
    assert request.settings == settings
    assert backend.closed


def test_run_ask_load_error_is_one_line():
    def fail(spec):
        raise ModelLoadError("Model path './x' not found; check the path.")

    stdout, stderr = io.StringIO(), io.StringIO()
    result = run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=stdout, stderr=stderr, load=fail)

    assert result.exit_code == EXIT_FAILURE
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == "Model path './x' not found; check the path.\n"


def test_run_ask_generation_error_keeps_partial_text():
    stdout, stderr = io.StringIO(), io.StringIO()
    result = run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=stdout, stderr=stderr,
                     load=lambda spec: FakeBackend(["a", "b", "c"], fail_at=2))

    assert result.exit_code == EXIT_FAILURE
    assert stdout.getvalue() == "ab\n"
    assert stderr.getvalue().count("\n") == 1
    assert "delta 2" in stderr.getvalue()
    assert result.reply.metadata.stop_reason is StopReason.ERROR


def test_run_ask_debug_prints_traceback():
    stderr = io.StringIO()
    run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=io.StringIO(), stderr=stderr, debug=True,
            load=lambda spec: FakeBackend(["a"], fail_at=0))

    assert "Traceback" in stderr.getvalue()


def test_run_ask_interrupt_keeps_partial_reply():
    backend = InterruptingBackend(["a", "b", "c", "d"])
    stdout, stderr = io.StringIO(), io.StringIO()
    result = run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=stdout, stderr=stderr,
                     load=lambda spec: backend)

    assert result.exit_code == EXIT_INTERRUPTED
    assert stdout.getvalue() == "ab\n"
    assert stderr.getvalue() == ""
    assert backend.cancel.is_set()
    assert result.reply.metadata.stop_reason is StopReason.CANCELLED


def test_run_ask_closed_stdout_stops_quietly():
    backend = FakeBackend(["a", "b", "c"])
    stdout, stderr = ClosedPipe(), io.StringIO()
    result = run_ask("hi", spec=ModelSpec(), settings=GenerationSettings(), stdout=stdout, stderr=stderr,
                     load=lambda spec: backend)

    assert result.exit_code == EXIT_BROKEN_PIPE
    assert stdout.getvalue() == "a"
    assert stderr.getvalue() == ""
    assert backend.requests[0].cancel.is_set()


# Prompt input --------------------------------------------------------------


class FakeStdin(io.StringIO):
    def __init__(self, text, tty):
        super().__init__(text)
        self.tty = tty

    def isatty(self):
        return self.tty


def test_prompt_argument_wins():
    assert read_prompt("hello", FakeStdin("piped", tty=False)) == "hello"


def test_prompt_read_from_pipe():
    assert read_prompt(None, FakeStdin("piped text\n", tty=False)) == "piped text"
    assert read_prompt("-", FakeStdin("dash\n", tty=False)) == "dash"


def test_missing_prompt_raises():
    with pytest.raises(ValueError):
        read_prompt(None, FakeStdin("", tty=True))
    with pytest.raises(ValueError):
        read_prompt("  ", FakeStdin("", tty=False))


# The command with the tiny models -----------------------------------------


def test_ask_stops_at_turn_marker(cli_app, trained_gpt2_dir):
    result = invoke(cli_app, ["--model", str(trained_gpt2_dir), "--temperature", "0", "hi"])

    assert result.exit_code == EXIT_OK, result.stderr
    assert result.stdout == TRAINED_REPLY + "\n"
    assert result.stderr == ""


def test_ask_reads_piped_stdin(cli_app, trained_gpt2_dir):
    result = invoke(cli_app, ["--model", str(trained_gpt2_dir), "--temperature", "0"], stdin="hi\n")

    assert result.exit_code == EXIT_OK, result.stderr
    assert result.stdout == TRAINED_REPLY + "\n"


def test_ask_seed_repeats_reply(cli_app, tiny_gpt2_dir):
    args = ["--model", str(tiny_gpt2_dir), "--seed", "7", "--max-new-tokens", "8", "--top-k", "0", "hello"]
    first = invoke(cli_app, args)
    second = invoke(cli_app, args)

    assert first.exit_code == EXIT_OK, first.stderr
    assert first.stdout == second.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--temperature", "abc"], "--temperature: Invalid value 'abc'"),
        (["-t", "-1"], "--temperature: Invalid value '-1'"),
        (["--top-k", "9.2"], "--top-k: Invalid value '9.2'"),
        (["--top-p", "0"], "--top-p: Invalid value '0'"),
        (["--max-new-tokens", "0"], "--max-new-tokens: Invalid value '0'"),
        (["--repetition-penalty", "-1"], "--repetition-penalty: Invalid value '-1'"),
        (["--seed", "-3"], "--seed: Invalid value '-3'"),
        (["--device", "tpu"], "--device"),
        (["--dtype", "int4"], "--dtype"),
    ],
)
def test_ask_invalid_option_is_one_line(cli_app, args, expected):
    result = invoke(cli_app, [*args, "hi"])

    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr


def test_ask_missing_model_fails(cli_app, tmp_path):
    missing = tmp_path / "no_model"
    result = invoke(cli_app, ["--model", str(missing), "hi"])

    assert result.exit_code == EXIT_FAILURE
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_missing_model_logs_warning(cli_app, tmp_path, caplog):
    missing = tmp_path / "no_model"
    result = invoke(cli_app, ["--model", str(missing), "hi"])

    assert result.exit_code == EXIT_FAILURE
    records = [record for record in caplog.records if record.name == "termchat.cli.ask"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info is None
    assert str(missing) in records[0].getMessage()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_ask_unknown_session_logs_warning(cli_app, caplog):
    result = invoke(cli_app, ["--session", "ffffffff", "hi"])

    assert result.exit_code == EXIT_FAILURE
    records = [record for record in caplog.records if record.name == "termchat.cli.ask"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info is None
    assert "ffffffff" in records[0].getMessage()


def test_ask_uncached_hub_model_fails_offline(cli_app):
    result = invoke(cli_app, ["--model", "gpt2", "hi"])

    assert result.exit_code == EXIT_FAILURE
    assert result.stderr.count("\n") == 1
    assert "not in the cache" in result.stderr


def test_ask_empty_prompt_fails(cli_app):
    result = invoke(cli_app, [], stdin="")

    assert result.exit_code == EXIT_USAGE
    assert "No prompt" in result.stderr


def test_ask_uses_config_model(cli_app, tmp_home, trained_gpt2_dir):
    config_dir = tmp_home / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text(
        f'[termchat]\nmodel = "{trained_gpt2_dir}"\n\n[generation]\ntemperature = 0\n', encoding="utf-8"
    )
    result = invoke(cli_app, ["hi"])

    assert result.exit_code == EXIT_OK, result.stderr
    assert result.stdout == TRAINED_REPLY + "\n"


# A real process ------------------------------------------------------------


def test_ask_process_ctrl_c_exits_130(tmp_home):
    # The gated fake backend never finishes on its own, so the reply is
    # still streaming when SIGINT arrives.
    script = textwrap.dedent(
        """
        import sys
        import termchat.engine
        from termchat.engine.fake import FakeBackend

        backend = FakeBackend(["partial", " never"], gate=True)
        backend.release()
        termchat.engine.load_backend = lambda spec, progress=None: backend
        from termchat.cli import main
        sys.argv = ["termchat", "ask", "hi"]
        main()
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    first = process.stdout.read(len("partial"))
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=60)

    assert first == "partial"
    assert process.returncode == EXIT_INTERRUPTED
    assert rest == "\n"
    assert stderr == ""
