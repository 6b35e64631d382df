"""`termchat sessions`: list, show, search, rename, delete, export and import saved conversations.

Imports only the store at call time: no torch, transformers or Textual.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.cells import cell_len

from termchat.cli.help_format import TermchatCommand, TermchatGroup
from termchat.i18n import _, ngettext

if TYPE_CHECKING:
    from termchat.store import Conversation, Store

logger = logging.getLogger(__name__)

EXIT_FAILURE = 1

# Private-use characters mark search matches in snippets, because they cannot
# clash with message text that is shown. They become bold on a terminal.
_MATCH_START = "\ue000"
_MATCH_END = "\ue001"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"

# C0 controls except tab and newline, DEL and C1 controls: shown escaped, so that
# saved text cannot move the cursor or recolour the terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


EXPORT_FORMATS = ("md", "json")
"""Values of `sessions export --format`."""


def register(app: typer.Typer) -> None:
    """Add the `sessions` subcommand group to the `termchat` command, with help in the current language.

    Typer shows the `help` given here, not the docstrings of the functions.
    """
    sessions_app = typer.Typer(
        name="sessions",
        help=_("List, show, search, rename, delete, export and import saved conversations."),
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        cls=TermchatGroup,
    )
    sessions_app.callback()(sessions)
    commands = (
        ("list", list_command, _("List saved conversations, most recent activity first.")),
        ("show", show_command, _("Print a conversation with its settings and every message.")),
        ("search", search_command, _("Search the text of every saved message.")),
        ("rename", rename_command, _("Give a conversation a new title.")),
        (
            "delete",
            delete_command,
            _("Delete a conversation and all its messages, after a confirmation prompt unless --yes is given."),
        ),
        ("export", export_command, _("Write a conversation as Markdown or as JSON that 'import' reads back.")),
        ("import", import_command, _("Add a conversation from a file written by 'export --format json'.")),
    )
    for name, function, help_text in commands:
        sessions_app.command(name, help=help_text, cls=TermchatCommand)(function)
    app.add_typer(sessions_app, name="sessions")


def sessions(ctx: typer.Context) -> None:
    """List, show, search, rename, delete, export and import saved conversations."""
    from termchat.log import setup_logging
    from termchat.paths import resolve_paths

    setup_logging(resolve_paths().log_file, debug=_debug(ctx))


def list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, metavar="N", help=_("Maximum number of conversations to list."))] = 50,
) -> None:
    """List saved conversations, most recent activity first."""
    with _open(ctx) as store:
        conversations = store.list_conversations(limit=limit)
    if not conversations:
        typer.echo(_("No saved conversations yet. Start one with 'termchat'."))
        return

    header = (_("ID"), _("LAST ACTIVITY"), _("MESSAGES"), _("MODEL"), _("TITLE"))
    rows = [
        (
            _short_id(conversation.id),
            _local_time(conversation.updated_at),
            str(conversation.message_count),
            _printable(_model_name(conversation.model)),
            _printable(conversation.title) or _("(untitled)"),
        )
        for conversation in conversations
    ]
    # Widths in terminal cells, because Chinese headers and titles take two cells a character.
    widths = [max(cell_len(row[column]) for row in [header, *rows]) for column in range(4)]
    for row in [header, *rows]:
        cells = [cell + " " * (width - cell_len(cell)) for cell, width in zip(row[:4], widths, strict=True)]
        typer.echo("  ".join([*cells, row[4]]).rstrip())


def _model_name(model: str) -> str:
    """Return a local model's file or folder name, or a Hub id unchanged, to keep the list narrow."""
    if model.startswith(("/", "./", "../", "~")) or model.lower().endswith(".gguf"):
        return Path(model).name or model
    return model


def show_command(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(metavar="ID", help=_("Conversation id or a unique prefix of it."))],
) -> None:
    """Print a conversation with its settings and every message."""
    from termchat.store.exchange import describe_settings

    with _open(ctx) as store:
        conversation = _resolve(ctx, store, conversation_id)
        messages = _run(ctx, lambda: store.messages(conversation.id))

    typer.echo(_printable(conversation.title) or _("(untitled)"))
    typer.echo(_("ID: {id}").format(id=conversation.id))
    typer.echo(_("Model: {model}").format(model=_printable(conversation.model)))
    typer.echo(_("Created: {time}").format(time=_local_time(conversation.created_at)))
    typer.echo(_("Last activity: {time}").format(time=_local_time(conversation.updated_at)))
    settings = describe_settings(conversation.settings)
    if settings:
        typer.echo(_("Settings: {settings}").format(settings=_printable(settings)))
    system_prompt = conversation.settings.get("system_prompt")
    if system_prompt:
        typer.echo(_("System prompt: {prompt}").format(prompt=_printable(str(system_prompt))))

    for message in messages:
        heading = _role_name(message.role)
        if message.status != "complete":
            heading = _("{role} ({status})").format(role=heading, status=_status_name(message.status))
        typer.echo("")
        typer.echo(f"── {heading} · {_local_time(message.created_at)} ──")
        typer.echo(_printable(message.content))


def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help=_("Words to find; a message matches when it contains all of them."))],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, metavar="N", help=_("Maximum number of matches to print."))] = 20,
) -> None:
    """Search the text of every saved message."""
    with _open(ctx) as store:
        hits = _run(ctx, lambda: store.search(query, limit=limit, snippet_start=_MATCH_START, snippet_end=_MATCH_END))
    if not hits:
        typer.echo(_("No message matches {query!r}.").format(query=query))
        return

    for hit in hits:
        snippet = " ".join(_printable(hit.snippet).split())
        # click.echo drops these escape codes when stdout is not a terminal.
        snippet = snippet.replace(_MATCH_START, _BOLD).replace(_MATCH_END, _RESET)
        title = _printable(hit.conversation.title) or _("(untitled)")
        typer.echo(f"{_short_id(hit.conversation.id)}  {title}")
        typer.echo(f"    {_role_name(hit.message.role)}: {snippet}")


def rename_command(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(metavar="ID", help=_("Conversation id or a unique prefix of it."))],
    title: Annotated[str, typer.Argument(metavar="TITLE", help=_("New title."))],
) -> None:
    """Give a conversation a new title."""
    if not title.strip():
        _fail(ctx, _("The title is empty; give a title with at least one visible character."))
    with _open(ctx) as store:
        conversation = _resolve(ctx, store, conversation_id)
        renamed = _run(ctx, lambda: store.rename_conversation(conversation.id, title))
    typer.echo(_("Renamed {id} to {title!r}.").format(id=_short_id(renamed.id), title=renamed.title))


def delete_command(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(metavar="ID", help=_("Conversation id or a unique prefix of it."))],
    yes: Annotated[bool, typer.Option("--yes", "-y", help=_("Delete without asking for confirmation."))] = False,
) -> None:
    """Delete a conversation and all its messages, after a confirmation prompt unless --yes is given."""
    with _open(ctx) as store:
        conversation = _resolve(ctx, store, conversation_id)
        if not yes:
            count = ngettext("{count} message", "{count} messages", conversation.message_count).format(
                count=conversation.message_count
            )
            question = _("Delete conversation {id} ({title!r}, {count})?").format(
                id=_short_id(conversation.id), title=conversation.title or _("(untitled)"), count=count
            )
            if not typer.confirm(question, default=False):
                typer.echo(_("Nothing was deleted."), err=True)
                raise typer.Exit(EXIT_FAILURE)
        _run(ctx, lambda: store.delete_conversation(conversation.id))
    typer.echo(_("Deleted conversation {id}.").format(id=_short_id(conversation.id)))


def export_command(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(metavar="ID", help=_("Conversation id or a unique prefix of it."))],
    export_format: Annotated[
        str,
        typer.Option("--format", "-f", metavar="md|json", help=_("md for reading, json for 'termchat sessions import'.")),
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help=_("File to write; standard output when omitted."))
    ] = None,
) -> None:
    """Write a conversation as Markdown or as JSON that 'import' reads back."""
    # A str checked here, not an Enum: Typer's Enum check prefixed its error with "Value error,".
    export_format = export_format.lower()
    if export_format not in EXPORT_FORMATS:
        raise typer.BadParameter(
            _("'{value}' is not one of {choices}.").format(value=export_format, choices=", ".join(EXPORT_FORMATS)),
            param_hint="'--format' / '-f'",
        )
    with _open(ctx) as store:
        conversation = _resolve(ctx, store, conversation_id)
        text = _run(ctx, lambda: store.export_conversation(conversation.id, export_format))

    if output is None:
        # Written as UTF-8 bytes and not through click.echo, which would strip
        # escape sequences from the text when stdout is not a terminal.
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        _fail(ctx, _("Could not write {path}: {error}. Choose another file with -o.").format(
            path=output, error=error.strerror or error
        ))
    typer.echo(_("Exported conversation {id} to {path}.").format(id=_short_id(conversation.id), path=output))


def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help=_("A JSON export; '-' reads standard input."))],
    copy: Annotated[
        bool, typer.Option("--copy", help=_("Save under a new id when the conversation already exists."))
    ] = False,
) -> None:
    """Add a conversation from a file written by 'export --format json'."""
    try:
        if str(file) == "-":
            text = sys.stdin.buffer.read().decode("utf-8")
        else:
            text = file.read_text(encoding="utf-8")
    except OSError as error:
        _fail(ctx, _("Could not read {path}: {error}.").format(path=file, error=error.strerror or error))
    except UnicodeDecodeError:
        _fail(ctx, _("Could not import {path}: the file is not UTF-8 text. Give a JSON export.").format(path=file))

    from termchat.store import StoreError

    with _open(ctx) as store:
        try:
            conversation = store.import_conversation(text, copy=copy)
        except StoreError as error:
            _fail(ctx, f"{file}: {error}", error)
    count = ngettext("{count} message", "{count} messages", conversation.message_count).format(
        count=conversation.message_count
    )
    typer.echo(_("Imported conversation {id} ({title!r}, {count}).").format(
        id=_short_id(conversation.id), title=conversation.title, count=count
    ))


# Helpers


@contextmanager
def _open(ctx: typer.Context) -> Iterator[Store]:
    from termchat.store import StoreError, open_store

    try:
        store = open_store()
    except StoreError as error:
        _fail(ctx, str(error), error)
    try:
        yield store
    finally:
        store.close()


def _resolve(ctx: typer.Context, store: Store, conversation_id: str) -> Conversation:
    return _run(ctx, lambda: store.resolve_conversation(conversation_id))


def _run(ctx: typer.Context, call):  # type: ignore[no-untyped-def]
    """Return `call()`, turning a StoreError into a one-line message and exit status 1."""
    from termchat.store import StoreError

    try:
        return call()
    except StoreError as error:
        _fail(ctx, str(error), error)


def _fail(ctx: typer.Context, message: str, error: BaseException | None = None) -> NoReturn:
    """Print `message` on stderr and exit with status 1. With --debug, print the traceback first.

    When `error` is given (a StoreError in every caller), it is also logged as a
    warning without a traceback, because `message` already names the cause and the fix.
    """
    if error is not None:
        conversation_id = ctx.params.get("conversation_id")
        logger.warning("sessions %s failed (conversation %s): %s", ctx.info_name, conversation_id or "none", message)
        if _debug(ctx):
            import traceback

            traceback.print_exception(error, file=sys.stderr)
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_FAILURE)


def _debug(ctx: typer.Context) -> bool:
    root = ctx.find_root()
    return bool(isinstance(root.obj, dict) and root.obj.get("debug"))


def _short_id(conversation_id: str) -> str:
    from termchat.store import short_id

    return short_id(conversation_id)


def _local_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _printable(text: str) -> str:
    """Return `text` with control characters other than tab and newline shown as escapes such as \\x1b."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _role_name(role: str) -> str:
    return {"system": _("System"), "user": _("User"), "assistant": _("Assistant")}.get(role, role)


def _status_name(status: str) -> str:
    return {
        "stopped": _("stopped"),
        "error": _("error"),
        "streaming": _("being written"),
    }.get(status, status)
