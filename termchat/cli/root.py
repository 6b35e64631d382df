"""The root `termchat` command: options shared by every subcommand, and the chat app without one.

Imports neither torch, transformers nor Textual at module level, so
`termchat --help` and the subcommands start fast. Typer and click are imported
only by `register`, because `termchat` with root options alone skips Typer
(see `parse_chat_argv`): Typer builds a pydantic adapter per option, which
took about 0.3 s before the first frame on the 2-core machine that
docs/benchmarks.md describes.
"""

# No `from __future__ import annotations`: `register` defines the Typer
# callback inside a function, and Typer evaluates its annotations at that
# point, where `typer` is a local name.

import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Any

from termchat import __version__
from termchat.config import DEVICES, DTYPES, ConfigError, load_config
from termchat.i18n import _, set_language
from termchat.paths import HOME_ENV, resolve_paths

RESUME_LATEST = "latest"
"""Value `--resume` takes when given without an id; ids are hexadecimal, so it cannot clash."""
_RESUME_OPTIONS = ("--resume", "-c")
EXIT_USAGE = 2


def normalize_resume_argv(args: list[str], subcommands: set[str]) -> list[str]:
    """Rewrite a bare `--resume`/`-c` as `--resume=latest`, because click has no optional option values.

    `--resume ID`, `--resume=ID` and `-c ID` stay as they are. The option is
    bare when it is last, or followed by another option or a subcommand name.
    """
    result: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            result.extend(args[index:])
            break
        is_value = index > 0 and args[index - 1] in _VALUE_OPTIONS and args[index - 1] not in _RESUME_OPTIONS
        if arg in _RESUME_OPTIONS and not is_value:
            following = args[index + 1] if index + 1 < len(args) else None
            if following is None or following.startswith("-") or following in subcommands:
                result.append(f"--resume={RESUME_LATEST}")
                continue
        result.append(arg)
    return result


_VALUE_OPTIONS = {
    "--model": "model",
    "-m": "model",
    "--device": "device",
    "--dtype": "dtype",
    "--resume": "resume",
    "-c": "resume",
    "--data-dir": "data_dir",
    "--lang": "lang",
}
_FLAG_OPTIONS = {"--trust-remote-code": "trust_remote_code", "--debug": "debug"}


def parse_chat_argv(args: list[str], subcommands: set[str]) -> dict[str, Any] | None:
    """Parse `args` that hold root options only, as Typer would; return None for anything else.

    None means Typer must parse `args`: a subcommand, `--help`, `--version`,
    an unknown or repeated option, a missing value or a value starting with
    `-`. Each key of the result is the name of a `root` parameter.
    """
    values: dict[str, Any] = {"trust_remote_code": False, "debug": False}
    args = normalize_resume_argv(list(args), subcommands)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg in _FLAG_OPTIONS:
            name, value = _FLAG_OPTIONS[arg], True
        elif arg.startswith("--") and "=" in arg:
            option, value = arg.split("=", 1)
            name = _VALUE_OPTIONS.get(option)
            if name is None or not value:
                return None
        elif arg in _VALUE_OPTIONS:
            if index == len(args) or args[index].startswith("-"):
                return None
            name, value = _VALUE_OPTIONS[arg], args[index]
            index += 1
        else:
            return None
        if name in values and name not in ("trust_remote_code", "debug"):
            return None
        values[name] = value
    return values


def root_option_values(args: list[str], subcommands: set[str]) -> dict[str, str]:
    """Return the values of the root options given before the subcommand, keyed like `_VALUE_OPTIONS`.

    Scanning stops at the first argument that is not an option, which is the
    subcommand's name, or at `--`. A repeated option keeps its last value, as
    click does. Unknown options are skipped, because Typer reports them later.
    """
    values: dict[str, str] = {}
    args = normalize_resume_argv(list(args), subcommands)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--" or not arg.startswith("-"):
            break
        if arg.startswith("--") and "=" in arg:
            option, value = arg.split("=", 1)
            if option in _VALUE_OPTIONS:
                values[_VALUE_OPTIONS[option]] = value
        elif arg in _VALUE_OPTIONS and index < len(args):
            values[_VALUE_OPTIONS[arg]] = args[index]
            index += 1
    return values


def choose_language(args: list[str], subcommands: set[str]) -> str:
    """Install the language for a Typer command line before its commands are registered.

    Typer reads the help texts when the commands are registered, before it
    parses `--lang`, so this reads `--lang` and `--data-dir` from `args`
    itself. The order is the one the root command uses: `--lang`, else the
    config file's `lang`, else the locale. Returns the language in use.
    """
    values = root_option_values(args, subcommands)
    if values.get("lang"):
        return set_language(values["lang"])
    config_file = resolve_paths(values.get("data_dir") or None).config_file
    return set_language(_configured_language(config_file))


def run_root_chat(values: dict[str, Any]) -> None:
    """Run the chat app with root option `values` from `parse_chat_argv`, without Typer."""
    data_dir = values.get("data_dir")
    if data_dir is not None:
        os.environ[HOME_ENV] = str(Path(data_dir).expanduser())
    options = {name: values.get(name) for name in ("model", "device", "dtype", "resume")}
    run_chat(options, lang=values.get("lang"), trust_remote_code=values["trust_remote_code"], debug=values["debug"])


def _fail(message: str) -> None:
    # SystemExit, not typer.Exit, because the chat app may start without Typer.
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USAGE)


def run_chat(options: dict[str, Any], *, lang: str | None, trust_remote_code: bool, debug: bool) -> None:
    """Set up logging, read the config and the conversation to resume, then run the app."""
    from termchat.log import setup_logging

    paths = resolve_paths()
    setup_logging(paths.log_file, debug=debug)

    try:
        config = load_config(paths.config_file)
    except ConfigError as error:
        set_language(lang)
        _fail(str(error))
    set_language(lang or config.lang)

    device = options["device"] or config.device
    dtype = options["dtype"] or config.dtype
    for name, value, allowed in (("--device", device, DEVICES), ("--dtype", dtype, DTYPES)):
        if value not in allowed:
            _fail(_("Invalid value {value!r} for {option}; use one of: {allowed}.").format(
                value=value, option=name, allowed=", ".join(allowed)
            ))

    # Without --resume the app opens the database after its first frame.
    # With it, the database is opened here, so an unknown id fails before the app starts.
    store = None
    conversation_id = None
    model = options["model"]
    if options["resume"] is not None:
        from termchat.store import StoreError, open_store

        try:
            store = open_store(paths.database_file)
        except StoreError as error:
            _fail(str(error))
        try:
            conversation = _conversation_to_resume(store, options["resume"])
        except StoreError as error:
            store.close()
            _fail(str(error))
        conversation_id = conversation.id
        model = model or conversation.model

    from termchat.engine import ModelSpec

    spec = ModelSpec(model=model or config.model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)  # type: ignore[arg-type]

    # Textual is imported only now, after the language is set, because
    # binding descriptions are translated when the tui modules load.
    from termchat.tui.app import TermchatApp

    app = TermchatApp(
        store=store,
        database_file=paths.database_file,
        config=config,
        spec=spec,
        conversation_id=conversation_id,
        config_path=paths.config_file,
    )
    try:
        app.run()
    finally:
        if app.store is not None:
            app.store.close()
        gc.enable()
    if app.return_code:
        sys.exit(app.return_code)


def _conversation_to_resume(store: Any, resume: str) -> Any:
    if resume == RESUME_LATEST:
        conversation = store.latest_conversation()
        if conversation is None:
            _fail(_("There is no saved conversation to resume; start one with 'termchat'."))
        return conversation
    return store.resolve_conversation(resume)


def register(app: Any) -> None:
    """Install the root callback, with every root option, on the `termchat` Typer app."""
    import typer

    from termchat.cli.help_format import TermchatGroup

    class RootGroup(TermchatGroup):
        """The root command group, which accepts `--resume` with or without an id."""

        def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
            return super().parse_args(ctx, normalize_resume_argv(list(args), set(self.commands)))

    def print_version(value: bool) -> None:
        if value:
            typer.echo(f"termchat {__version__}")
            raise typer.Exit()

    # The help texts are translated here, when the command is registered, so
    # `main` installs the language first (see `choose_language`).
    def root(
        ctx: typer.Context,
        model: Annotated[
            str | None,
            typer.Option(
                "--model",
                "-m",
                metavar="MODEL",
                help=_("Hub id, local model folder or .gguf file to chat with. Default: the config file's model, else gpt2."),
            ),
        ] = None,
        device: Annotated[
            str | None,
            typer.Option(
                "--device",
                metavar="DEVICE",
                help=_("Device to run the model on: {devices}. Default: auto.").format(devices=", ".join(DEVICES)),
            ),
        ] = None,
        dtype: Annotated[
            str | None,
            typer.Option(
                "--dtype",
                metavar="DTYPE",
                help=_("Weight precision: {dtypes}. Default: auto.").format(dtypes=", ".join(DTYPES)),
            ),
        ] = None,
        resume: Annotated[
            str | None,
            typer.Option(
                "--resume",
                "-c",
                help=_("Continue a saved conversation: the most recent one, or the one whose id starts with ID."),
                metavar="[ID]",
            ),
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                metavar="DIR",
                help=_("Keep the database, config, cache and logs under this folder (sets {variable}).").format(
                    variable=HOME_ENV
                ),
            ),
        ] = None,
        lang: Annotated[
            str | None,
            typer.Option(
                "--lang",
                metavar="LANG",
                help=_("Language of the interface, such as en or zh_CN. Default: config file, else the locale."),
            ),
        ] = None,
        trust_remote_code: Annotated[
            bool,
            typer.Option("--trust-remote-code", help=_("Run Python code that ships with a Hub model. Off by default.")),
        ] = False,
        debug: Annotated[
            bool,
            typer.Option("--debug", help=_("Write debug details to the log file.")),
        ] = False,
        version: Annotated[
            bool,
            typer.Option("--version", callback=print_version, is_eager=True, help=_("Print the version and exit.")),
        ] = False,
    ) -> None:
        """Chat with a local model in the terminal; without a subcommand this opens the chat app."""
        if data_dir is not None:
            os.environ[HOME_ENV] = str(data_dir.expanduser())
        ctx.ensure_object(dict)["debug"] = debug

        if ctx.invoked_subcommand is not None:
            set_language(lang or _configured_language())
            return

        options = {"model": model, "device": device, "dtype": dtype, "resume": resume}
        run_chat(options, lang=lang, trust_remote_code=trust_remote_code, debug=debug)

    app.callback(
        invoke_without_command=True,
        cls=RootGroup,
        help=_("Chat with GPT-2 and other local causal language models in the terminal."),
    )(root)


def _configured_language(config_file: Path | None = None) -> str | None:
    """Return the `lang` of `config_file` (default: the config dir's), or None when unset or unreadable.

    None lets the locale decide. A broken config file is reported by the
    commands that read the rest of it, so it does not stop `sessions`,
    `info` or `--help` here.
    """
    try:
        return load_config(config_file).lang
    except ConfigError:
        return None
