"""`termchat ask`: stream one reply to stdout and exit.

stdout receives the reply and nothing else, so the command works in pipes.
Errors are one line on stderr. torch and transformers are imported only when
the model loads.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from termchat.cli.help_format import TermchatCommand
from termchat.i18n import _

if TYPE_CHECKING:
    from termchat.engine import ChatBackend, ChatMessage, ModelSpec, Reply
    from termchat.engine.settings import GenerationSettings
    from termchat.store import Conversation, ConversationRecorder, Store, StoredMessage

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
# The shell convention for a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
# The shell convention for SIGPIPE (128 + 13): the reader of stdout went away,
# as with `termchat ask ... | head -c 10`.
EXIT_BROKEN_PIPE = 141


@dataclass
class AskResult:
    """Outcome of `run_ask`: the exit code and the reply, when one was started."""

    exit_code: int
    reply: Reply | None = None
    error: str | None = None
    """The one-line message written to stderr, if any."""


BackendLoader = Callable[["ModelSpec"], "ChatBackend"]
RecorderOpener = Callable[[], "ConversationRecorder"]


def run_ask(
    prompt: str,
    *,
    spec: ModelSpec,
    settings: GenerationSettings,
    stdout: TextIO,
    stderr: TextIO,
    debug: bool = False,
    load: BackendLoader | None = None,
    cancel: threading.Event | None = None,
    history: Sequence[ChatMessage] = (),
    open_recorder: RecorderOpener | None = None,
) -> AskResult:
    """Load the model, stream the reply to `prompt` into `stdout`, and return the result.

    Writes only the reply (and a final newline) to `stdout`, and at most one
    error line to `stderr`, plus a traceback when `debug` is set. Ctrl+C
    stops the reply, keeps the text written so far and returns exit code 130.
    `history` contains the earlier turns of a continued conversation.

    `open_recorder` is called only once the model has loaded, so a failed load
    saves nothing. The recorder it returns saves the prompt before generation
    and the reply as it streams, with its final status. A StoreError from
    `open_recorder` ends the command with exit code 1 before generation. A
    failed save after that is one warning line on `stderr` and does not
    change the exit code. `load` replaces `termchat.engine.load_backend` in
    tests.
    """
    from termchat.engine import ChatMessage, EngineError, GenerationError, load_backend
    from termchat.store import StoreError

    cancel = cancel if cancel is not None else threading.Event()
    loader = load if load is not None else load_backend
    try:
        backend = loader(spec)
    except KeyboardInterrupt:
        return AskResult(EXIT_INTERRUPTED)
    except EngineError as error:
        return _fail(stderr, str(error), debug, model=spec.model)

    recorder = None
    if open_recorder is not None:
        try:
            recorder = open_recorder()
        except StoreError as error:
            backend.close()
            return _fail(stderr, str(error), debug, model=spec.model)
        recorder.add_user_message(prompt)

    conversation_id = recorder.conversation_id if recorder is not None else None
    stream = None
    wrote_text = False
    if recorder is not None:
        recorder.start_reply()
    try:
        stream = backend.stream([*history, ChatMessage("user", prompt)], settings, cancel)
        for delta in stream:
            # Set first, so a Ctrl+C during the write still ends the line.
            wrote_text = True
            if recorder is not None:
                recorder.append_reply(delta)
            stdout.write(delta)
            stdout.flush()
    except KeyboardInterrupt:
        cancel.set()
        if stream is not None:
            stream.close()
        _end_line(stdout, wrote_text)
        logger.info("ask interrupted by the user")
        result = AskResult(EXIT_INTERRUPTED, reply=stream.reply if stream is not None else None)
        return _finish(result, recorder, settings, stderr)
    except BrokenPipeError:
        cancel.set()
        if stream is not None:
            stream.close()
        _silence_stdout(stdout)
        logger.info("ask stopped: stdout was closed by its reader")
        result = AskResult(EXIT_BROKEN_PIPE, reply=stream.reply if stream is not None else None)
        return _finish(result, recorder, settings, stderr)
    except GenerationError as error:
        _end_line(stdout, wrote_text)
        result = _fail(stderr, str(error), debug, reply=error.reply, model=spec.model, conversation_id=conversation_id)
        return _finish(result, recorder, settings, stderr)
    except EngineError as error:
        _end_line(stdout, wrote_text)
        result = _fail(stderr, str(error), debug, model=spec.model, conversation_id=conversation_id)
        return _finish(result, recorder, settings, stderr)
    finally:
        backend.close()

    _end_line(stdout, wrote_text)
    reply = stream.reply
    if reply is not None:
        logger.info("ask reply: %s", reply.metadata.to_dict())
    return _finish(AskResult(EXIT_OK, reply=reply), recorder, settings, stderr)


def _finish(
    result: AskResult,
    recorder: ConversationRecorder | None,
    settings: GenerationSettings,
    stderr: TextIO,
) -> AskResult:
    """Close the saved reply with the result's status, and warn on stderr when saving failed."""
    if recorder is None:
        return result

    metadata: dict[str, Any] = {"settings": settings.to_dict()}
    if result.reply is not None:
        metadata.update(result.reply.metadata.to_dict())
        status = result.reply.status
        text = result.reply.text or recorder.reply_text
    else:
        status = "stopped"
        text = recorder.reply_text
    if result.error:
        status = "error"
        metadata["error"] = result.error
    recorder.finish_reply(text, status, metadata)

    if recorder.pending:
        recorder.flush()
    if recorder.last_error is not None:
        stderr.write(str(recorder.last_error) + "\n")
        stderr.flush()
    return result


def history_from_store(messages: Sequence[StoredMessage]) -> list[ChatMessage]:
    """Return saved messages as engine turns, leaving out system rows and empty replies."""
    from termchat.engine import ChatMessage

    turns: list[ChatMessage] = []
    for message in messages:
        if message.role not in ("user", "assistant"):
            continue
        if message.role == "assistant" and not message.content:
            continue
        turns.append(ChatMessage(message.role, message.content))
    return turns


def _end_line(stdout: TextIO, wrote_text: bool) -> None:
    if wrote_text:
        stdout.write("\n")
        stdout.flush()


def _silence_stdout(stdout: TextIO) -> None:
    """Point the closed stdout at /dev/null, so the flush at exit raises no second BrokenPipeError."""
    try:
        descriptor = stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def _fail(
    stderr: TextIO,
    message: str,
    debug: bool,
    reply: Reply | None = None,
    *,
    model: str,
    conversation_id: str | None = None,
) -> AskResult:
    # A warning without a traceback, because the message already names the
    # cause and the fix. --debug prints the traceback on stderr.
    logger.warning("ask failed (model %s, conversation %s): %s", model, conversation_id or "none", message)
    if debug:
        traceback.print_exc(file=stderr)
    stderr.write(message + "\n")
    stderr.flush()
    return AskResult(EXIT_FAILURE, reply=reply, error=message)


def read_prompt(prompt: str | None, stdin: TextIO) -> str:
    """Return the prompt argument, or the text piped to stdin when the argument is missing or '-'.

    Raises ValueError with a one-line message when there is no prompt.
    """
    if prompt is not None and prompt != "-":
        text = prompt
    elif stdin is not None and not stdin.isatty():
        text = stdin.read()
    else:
        text = ""
    if not text.strip():
        raise ValueError(_("No prompt given; pass it as an argument (termchat ask \"Hello\") or pipe it to stdin."))
    return text.strip("\n")


def build_settings(base: GenerationSettings, options: dict[str, Any]) -> GenerationSettings:
    """Apply the command-line values that were given over `base`.

    Raises SettingsError whose message names the command-line option, such
    as "--top-k", for an invalid option value.
    """
    from termchat.engine import SettingsError

    given = {name: value for name, value in options.items() if value is not None}
    try:
        return base.from_mapping(given, base=base)
    except SettingsError as error:
        if error.field not in given:
            raise
        option = "--system" if error.field == "system_prompt" else "--" + error.field.replace("_", "-")
        raise SettingsError(error.field, error.value, f"{option}: {error.detail}", error.detail) from None


def ask(
    ctx: typer.Context,
    prompt: Annotated[
        str | None,
        typer.Argument(metavar="PROMPT", help=_("The message to send. Without it, or with '-', the text piped to stdin is used.")),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="MODEL", help=_("Hub id, local model folder or .gguf file. Default: the config file's model, else gpt2.")),
    ] = None,
    device: Annotated[str | None, typer.Option("--device", metavar="DEVICE", help=_("Device: auto, cpu, cuda or mps. Default: auto."))] = None,
    dtype: Annotated[
        str | None, typer.Option("--dtype", metavar="DTYPE", help=_("Weight precision: auto, float32, bfloat16 or float16. Default: auto."))
    ] = None,
    temperature: Annotated[
        str | None, typer.Option("--temperature", "-t", metavar="FLOAT", help=_("Sampling temperature, >= 0; 0 means greedy decoding. Default: 0.7."))
    ] = None,
    top_k: Annotated[
        str | None, typer.Option("--top-k", metavar="INT", help=_("Sample from the k most likely tokens, >= 0; 0 turns top-k off. Default: 50."))
    ] = None,
    top_p: Annotated[
        str | None, typer.Option("--top-p", metavar="FLOAT", help=_("Nucleus sampling probability mass, in (0, 1]; 1 turns it off. Default: 0.95."))
    ] = None,
    max_new_tokens: Annotated[
        str | None, typer.Option("--max-new-tokens", "-n", metavar="INT", help=_("Maximum tokens in the reply, >= 1. Default: 256."))
    ] = None,
    repetition_penalty: Annotated[
        str | None,
        typer.Option("--repetition-penalty", metavar="FLOAT", help=_("Penalty for repeated tokens, > 0; 1 means none. Default: 1.1.")),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option("--seed", metavar="INT", help=_("Random seed from 0 to 4294967295; the same seed gives the same reply.")),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", metavar="TEXT", help=_("System prompt placed before the message."))] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help=_("Run Python code that ships with a Hub model. Off by default."))
    ] = False,
    session: Annotated[
        str | None,
        typer.Option("--session", metavar="ID", help=_("Continue this saved conversation (full id or unique prefix) and use its settings.")),
    ] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help=_("Do not save the message and the reply."))] = False,
    debug: Annotated[bool, typer.Option("--debug", help=_("Print tracebacks and write debug details to the log file."))] = False,
) -> None:
    """Send one message to the model and stream its reply to stdout.

    Sampling defaults come from the [generation] table of the config file when it sets them.
    The message and the reply are saved as a conversation unless --no-save is given.
    """
    from termchat.config import DEVICES, DTYPES, ConfigError, load_config
    from termchat.engine import ModelSpec, SettingsError
    from termchat.store import StoreError, open_store
    from termchat.log import setup_logging
    from termchat.paths import resolve_paths

    root_options = ctx.obj if isinstance(ctx.obj, dict) else {}
    debug = debug or bool(root_options.get("debug"))
    paths = resolve_paths()
    setup_logging(paths.log_file, debug=debug)

    store = None
    try:
        config = load_config(paths.config_file)
        text = read_prompt(prompt, sys.stdin)
        base_settings = config.generation
        conversation = None
        if session is not None or not no_save:
            store = open_store(paths.database_file)
        if session is not None:
            conversation = store.resolve_conversation(session)
            base_settings = _saved_settings(conversation.settings, config.generation)
        options = {
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
            "repetition_penalty": repetition_penalty,
            "seed": seed,
            "system_prompt": system,
        }
        settings = build_settings(base_settings, options)
        device = device or config.device
        dtype = dtype or config.dtype
        _check_choice("--device", device, DEVICES)
        _check_choice("--dtype", dtype, DTYPES)
    except (ConfigError, SettingsError, ValueError) as error:
        _stop(store, error, EXIT_USAGE, session)
    except StoreError as error:
        _stop(store, error, EXIT_FAILURE, session)

    model_id = model or (conversation.model if conversation is not None else config.model)
    spec = ModelSpec(
        model=model_id,
        device=device,  # type: ignore[arg-type]
        dtype=dtype,  # type: ignore[arg-type]
        trust_remote_code=trust_remote_code,
    )

    history: list[ChatMessage] = []
    if conversation is not None:
        try:
            history = history_from_store(store.messages(conversation.id))
        except StoreError as error:
            _stop(store, error, EXIT_FAILURE, session)

    # run_ask calls it once the model has loaded, so a failed load leaves no conversation behind.
    open_recorder = None
    if store is not None and not no_save:
        open_recorder = functools.partial(_open_recorder, store, conversation, model_id, settings)

    _reconfigure_stdout()
    try:
        result = run_ask(
            text,
            spec=spec,
            settings=settings,
            stdout=sys.stdout,
            stderr=sys.stderr,
            debug=debug,
            history=history,
            open_recorder=open_recorder,
        )
    finally:
        _close(store)
    raise typer.Exit(result.exit_code)


def _saved_settings(saved: dict[str, Any], fallback: GenerationSettings) -> GenerationSettings:
    """Return a conversation's saved settings, or `fallback` where a saved value is no longer valid."""
    from termchat.engine import GenerationSettings, SettingsError

    known = set(GenerationSettings().to_dict())
    values = {name: value for name, value in saved.items() if name in known}
    try:
        return GenerationSettings.from_mapping(values, base=fallback)
    except SettingsError as error:
        logger.warning("ignoring saved settings of the conversation: %s", error)
        return fallback


def _open_recorder(
    store: Store, conversation: Conversation | None, model_id: str, settings: GenerationSettings
) -> ConversationRecorder:
    """Create the conversation, or save the model and settings of the continued one, and return its recorder.

    Raises StoreError.
    """
    from termchat.store import ConversationRecorder

    if conversation is None:
        conversation = store.create_conversation(model_id, settings.to_dict())
    else:
        store.update_conversation_settings(conversation.id, model_id, settings.to_dict())
    return ConversationRecorder(store, conversation.id)


def _stop(store: Any, error: Exception, exit_code: int, session: str | None) -> NoReturn:
    """Log `error` as a warning, close the store, print `error` as one line on stderr and exit with `exit_code`."""
    logger.warning("ask stopped before loading the model (session %s): %s", session or "none", error)
    _close(store)
    typer.echo(str(error), err=True)
    raise typer.Exit(exit_code) from None


def _close(store: Any) -> None:
    if store is not None:
        store.close()


def _check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(
            _("Invalid value {value!r} for {option}; use one of: {allowed}.").format(
                value=value, option=option, allowed=", ".join(allowed)
            )
        )


def _reconfigure_stdout() -> None:
    """Replace characters the terminal's encoding cannot show instead of failing mid-reply."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")


def register(app: typer.Typer) -> None:
    """Add the `ask` command to the `termchat` command, with help in the current language.

    Typer shows the `help` given here, not the docstring of `ask`.
    """
    help_text = _(
        "Send one message to the model and stream its reply to stdout.\n\n"
        "Sampling defaults come from the [generation] table of the config file when it sets them. "
        "The message and the reply are saved as a conversation unless --no-save is given."
    )
    app.command("ask", help=help_text, cls=TermchatCommand)(ask)
