"""The `termchat` command. Imports neither torch, transformers nor Textual at start-up.

`termchat` with root options only starts the chat app without importing
Typer, which keeps Typer's start-up cost out of the app's first frame. The
Typer `app` is built on first access, for every other command line and for
tests that use `typer.testing.CliRunner`.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

SUBCOMMANDS = frozenset({"ask", "info", "sessions"})
"""Names of the subcommands that `_register_commands` adds; a test checks that they match."""

_typer_app: Any = None


def _build_app() -> Any:
    import typer

    return typer.Typer(
        name="termchat",
        add_completion=False,
        no_args_is_help=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def __getattr__(name: str) -> Any:
    # Module attribute `app`, the Typer app, created on first access.
    global _typer_app
    if name == "app":
        if _typer_app is None:
            _typer_app = _build_app()
        return _typer_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_commands() -> None:
    from termchat.cli import ask, info, root, sessions

    app = __getattr__("app")
    root.register(app)
    ask.register(app)
    info.register(app)
    sessions.register(app)


def main() -> None:
    """Run the command line; the console script's entry point."""
    # Starting the chat app makes many objects that live as long as the app,
    # and the garbage collector scanned them again and again (an estimated
    # 70 ms of CPU before the first frame on a 2-core machine). The app turns
    # the collector back on after its first frame.
    gc.disable()
    from termchat.cli import root

    chat_options = root.parse_chat_argv(sys.argv[1:], set(SUBCOMMANDS))
    if chat_options is not None:
        root.run_root_chat(chat_options)
        return
    gc.enable()
    root.choose_language(sys.argv[1:], set(SUBCOMMANDS))
    _register_commands()
    __getattr__("app")()
