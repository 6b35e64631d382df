"""The `termchat` command. Imports neither torch, transformers nor Textual at start-up."""

from __future__ import annotations

import typer

from termchat import __version__

app = typer.Typer(
    name="termchat",
    help="Chat with GPT-2 and other local causal language models in the terminal.",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register_commands() -> None:
    from termchat.cli import ask, info, root, sessions

    root.register(app)
    ask.register(app)
    info.register(app)
    sessions.register(app)


def main() -> None:
    """Run the command line; the console script's entry point."""
    _register_commands()
    app()
