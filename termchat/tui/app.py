"""The termchat Textual app: loads the model in the background and hosts the screens."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.theme import Theme, ThemeProvider

from termchat.config import Config, ConfigError, save_generation_defaults, save_theme
from termchat.engine import (
    ChatBackend,
    EngineError,
    LoadProgress,
    ModelSpec,
    ProgressCallback,
    load_backend,
)
from termchat.i18n import _
from termchat.paths import resolve_paths
from termchat.store.errors import StoreError
from termchat.tui.commands import LoadModelCommands
from termchat.tui.screens.chat import ChatScreen
from termchat.tui.widgets.chat_message import ChatMessage
from termchat.tui.widgets.composer import Composer
from termchat.tui.worker import call_soon_threadsafe, run_in_daemon_thread

if TYPE_CHECKING:
    from termchat.store import Store
    from termchat.tui.screens.sessions import SessionsResult
    from termchat.tui.screens.settings import SettingsResult

log = logging.getLogger(__name__)

Loader = Callable[[ModelSpec, ProgressCallback], ChatBackend]

_QUIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name))
"""Signals that end the app like Ctrl+Q, saving the reply being written."""


class TermchatApp(App[None]):
    """Chat with a local causal language model.

    Every dependency is a constructor argument, so tests pass a temporary
    store, a fake loader and their own config instead of patching globals.

    Without a `store`, the app opens `database_file` (by default the one in
    the data directory) right after its first frame, because importing the
    store package took about 50 ms of the time to first paint. A database
    that cannot be opened is then reported inside the app.
    """

    CSS_PATH = "app.tcss"
    TITLE = "termchat"
    COMMANDS = App.COMMANDS | {LoadModelCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", _("Quit"), id="quit", priority=True),
        Binding("f1", "help", _("Help"), id="help"),
        Binding("ctrl+o", "sessions", _("Sessions"), id="sessions"),
        Binding("f2", "settings", _("Settings"), id="settings"),
        Binding("ctrl+n", "new_chat", _("New chat"), id="new_chat"),
    ]

    def __init__(
        self,
        *,
        store: Store | None = None,
        database_file: Path | None = None,
        config: Config | None = None,
        spec: ModelSpec | None = None,
        loader: Loader = load_backend,
        conversation_id: str | None = None,
        config_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        """None until the database is open; see the class docstring."""
        self._database_file = database_file
        self.config = config if config is not None else Config()
        self.spec = spec if spec is not None else ModelSpec(self.config.model, self.config.device, self.config.dtype)  # type: ignore[arg-type]
        self.config_path = config_path
        self.backend: ChatBackend | None = None
        """The loaded model; None while loading or after a failed load."""
        self.load_error: str | None = None
        self._backend_spec: ModelSpec | None = None
        """The spec that `backend` was loaded from."""
        self._loader = loader
        self.chat = ChatScreen(store, self.config.generation, conversation_id)

    @property
    def model_name(self) -> str:
        return self.backend.info.model_id if self.backend is not None else self.spec.model

    def get_default_screen(self) -> ChatScreen:
        # The chat screen is the bottom of the screen stack, so Textual does
        # not compose and paint an empty default screen before it.
        return self.chat

    async def on_mount(self) -> None:
        self._apply_theme()
        self._apply_keymap()
        self.call_after_refresh(self._after_first_frame)
        self._handle_hangup()

    def _handle_hangup(self) -> None:
        # Closing the terminal window sends SIGHUP, and `kill` sends SIGTERM.
        # Both would end the process before the streaming reply's last second
        # is saved, so they quit the way Ctrl+Q does.
        loop = asyncio.get_running_loop()
        for number in _QUIT_SIGNALS:
            try:
                loop.add_signal_handler(number, self._quit_on_signal, number)
            except (NotImplementedError, RuntimeError, ValueError):
                return  # Windows, or a loop outside the main thread, as in some tests.

    def _quit_on_signal(self, number: int) -> None:
        log.info("Quitting on signal %s", signal.Signals(number).name)
        self.chat.close_reply_now()
        self.exit()

    def on_unmount(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for number in _QUIT_SIGNALS:
            try:
                loop.remove_signal_handler(number)
            except (NotImplementedError, RuntimeError, ValueError):
                return

    async def _after_first_frame(self) -> None:
        # The command line turns the garbage collector off while it starts the
        # app, because start-up makes many objects that live as long as the app.
        # Frozen, they are left out of every later collection.
        gc.freeze()
        gc.enable()
        if self.store is None and self.chat.store_error is None:
            await self._open_store()
        # Loading starts after the first frame: importing torch in the loader
        # thread holds the GIL for long stretches and would delay the first paint.
        self.load_model(self.spec)
        self.call_after_refresh(self._import_reply_widgets)

    async def _open_store(self) -> None:
        from termchat.store import open_store

        path = self._database_file if self._database_file is not None else resolve_paths().database_file
        try:
            store = open_store(path)
        except StoreError as error:
            log.warning("Could not open the database: %s", error)
            self.chat.show_store_error(str(error))
            return
        self.store = store
        self.chat.store_ready(store)
        await self.chat.open_conversation(self.chat.initial_conversation_id)

    def _import_reply_widgets(self) -> None:
        # The Markdown widget is imported only by the first reply (see
        # AssistantMessage), so import it once the first frame is out, not when
        # the first reply starts.
        import textual.widgets._markdown  # noqa: F401

    def _apply_theme(self) -> None:
        theme = self.config.theme
        if theme is not None:
            if theme in self.available_themes:
                self.theme = theme
            else:
                self.notify(
                    _("Unknown theme {theme!r} in the config file; choose one with the Theme command.").format(
                        theme=theme
                    ),
                    severity="warning",
                    markup=False,
                )
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    def _remember_theme(self, theme: Theme) -> None:
        if theme.name == self.config.theme:
            return
        try:
            save_theme(theme.name, self.config_path)
        except ConfigError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.config = replace(self.config, theme=theme.name)

    def _apply_keymap(self) -> None:
        if not self.config.keys:
            return  # Nothing to remap, so skip binding_rows, which imports every screen.
        known = {binding_id for _key, _description, binding_id in self.binding_rows()}
        unknown = sorted(set(self.config.keys) - known)
        if unknown:
            self.notify(
                _("Unknown binding ids in [keys] of the config file: {ids}. Press F1 to see the ids.").format(
                    ids=", ".join(unknown)
                ),
                severity="warning",
                markup=False,
            )
        keymap = {key: value for key, value in self.config.keys.items() if key in known}
        conflicts = self.keymap_conflicts(keymap)
        if conflicts:
            self.notify(
                _("Keys given to two actions by [keys] in the config file: {conflicts}. "
                  "Only one of them works; give the other a free key.").format(conflicts="; ".join(conflicts)),
                severity="warning",
                timeout=15,
                markup=False,
            )
        self.set_keymap(keymap)

    # Model loading.

    def load_model(self, spec: ModelSpec) -> None:
        """Load `spec` in the background; the current model stays usable until the new one is ready."""
        if self.chat.generating:
            self.notify(_("Stop the reply (Esc) before loading another model."), severity="warning", markup=False)
            return
        self.spec = spec
        self.load_error = None
        self.run_worker(self._load(spec), group="load", exclusive=True, exit_on_error=False)

    async def _load(self, spec: ModelSpec) -> None:
        loop = asyncio.get_running_loop()

        def report(progress: LoadProgress) -> None:
            call_soon_threadsafe(loop, self._show_progress, spec, progress)

        self.chat.show_load_progress(
            LoadProgress("load", _("Loading {model}").format(model=spec.model), 0, None)
        )
        log.info("Loading model %s (device %s, dtype %s)", spec.model, spec.device, spec.dtype)
        try:
            backend = await run_in_daemon_thread(self._loader, spec, report, name="termchat-load")
        except EngineError as error:
            self._fail_load(spec, str(error))
            return
        except Exception as error:  # noqa: BLE001 - a loader bug must leave the app usable.
            log.exception("Loading %s failed", spec.model)
            self._fail_load(spec, _("Loading {model} failed: {error}").format(model=spec.model, error=error))
            return

        if spec is not self.spec:
            backend.close()  # Another model was requested while this one loaded.
            return
        previous, self.backend = self.backend, backend
        self._backend_spec = spec
        if previous is not None:
            previous.close()
        log.info("Loaded %s on %s as %s", backend.info.model_id, backend.info.device, backend.info.dtype)
        self.chat.backend_ready(backend)

    def _show_progress(self, spec: ModelSpec, progress: LoadProgress) -> None:
        if spec is self.spec:
            self.chat.show_load_progress(progress)

    def _fail_load(self, spec: ModelSpec, message: str) -> None:
        if spec is not self.spec:
            return
        log.warning("Model load failed: %s", message)
        if self.backend is not None and self._backend_spec is not None:
            # The model loaded earlier is still loaded and replies to the next message.
            self.spec = self._backend_spec
            self.chat.show_load_error_keeping_model(message, self.backend)
            return
        self.load_error = message
        self.chat.show_load_error(message)

    # Actions.

    async def action_quit(self) -> None:
        # Save the partial reply first: the model thread is abandoned, not awaited.
        self.chat.close_reply_now()
        self.exit()

    # The help, sessions and settings screens are imported when first opened,
    # which keeps them out of the time to first paint.

    def action_help(self) -> None:
        from termchat.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.binding_rows()))

    def action_sessions(self) -> None:
        from termchat.tui.screens.sessions import SessionsScreen

        if isinstance(self.screen, SessionsScreen):
            return
        if self.store is None:
            self._report_missing_store()
            return
        self.push_screen(SessionsScreen(self.store), self._open_session_result)

    async def _open_session_result(self, result: SessionsResult | None) -> None:
        from termchat.tui.screens.sessions import NewConversation, OpenConversation

        if isinstance(result, OpenConversation):
            await self.chat.open_conversation(result.conversation_id)
            return
        if isinstance(result, NewConversation):
            await self.chat.open_conversation(None)
            return
        await self._reread_open_conversation()

    async def _reread_open_conversation(self) -> None:
        """Show what the sessions screen changed in the open conversation: a new title, or its deletion."""
        conversation = self.chat.conversation
        if conversation is None or self.store is None:
            return
        try:
            stored = self.store.get_conversation(conversation.id)
        except StoreError as error:
            if error.reason == "not_found":
                await self.chat.open_conversation(None)
            else:
                log.warning("Reading conversation %s after the sessions screen failed: %s", conversation.id, error)
            return
        self.chat.show_stored_conversation(stored)

    def action_settings(self) -> None:
        from termchat.tui.screens.settings import SettingsScreen

        if isinstance(self.screen, SettingsScreen):
            return
        context_size = self.backend.info.context_size if self.backend is not None else None
        self.push_screen(SettingsScreen(self.chat.settings, context_size), self._apply_settings_result)

    def _apply_settings_result(self, result: SettingsResult | None) -> None:
        if result is None:
            return
        self.chat.apply_settings(result.settings)
        if result.save_as_default:
            try:
                path = save_generation_defaults(result.settings, self.config_path)
            except ConfigError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            self.config = replace(self.config, generation=result.settings)
            self.notify(_("Saved as defaults in {path}.").format(path=path), markup=False)
        else:
            self.notify(_("Settings apply from the next reply."), markup=False)

    async def action_new_chat(self) -> None:
        await self.chat.open_conversation(None)

    def action_load_model(self, model: str) -> None:
        self.load_model(replace(self.spec, model=model))

    def action_export(self) -> None:
        conversation = self.chat.conversation
        if conversation is None or self.store is None:
            self.notify(_("There is nothing to export yet."), severity="warning", markup=False)
            return
        from termchat.store import short_id

        folder = resolve_paths().data_dir / "exports"
        path = folder / f"{short_id(conversation.id)}.md"
        try:
            text = self.store.export_conversation(conversation.id, "md")
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except (StoreError, OSError) as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.notify(_("Exported to {path}.").format(path=path), markup=False)

    def _report_missing_store(self) -> None:
        if self.chat.store_error is not None:
            self.chat.notify_store_error()
        else:
            self.notify(_("The database is still opening; try again in a moment."), severity="warning", markup=False)

    # Help and the command palette.

    def _binding_groups(self) -> list[tuple[str, list[Binding]]]:
        """Return (screen name, bindings) for the app, first, and for each screen."""
        # Imported here, like in the actions above, to keep these screens out of the first paint.
        from termchat.tui.screens.confirm import ConfirmScreen
        from termchat.tui.screens.help import HelpScreen
        from termchat.tui.screens.rename import RenameScreen
        from termchat.tui.screens.sessions import RowTable, SessionsScreen
        from termchat.tui.screens.settings import SettingsScreen

        groups = [
            (_("All screens"), self.BINDINGS),
            (_("Chat"), [*ChatScreen.BINDINGS, *Composer.BINDINGS, *ChatMessage.BINDINGS]),
            (_("Sessions"), [*SessionsScreen.BINDINGS, *RowTable.BINDINGS]),
            (_("Settings"), SettingsScreen.BINDINGS),
            (_("Help"), HelpScreen.BINDINGS),
            (_("Confirmation"), ConfirmScreen.BINDINGS),
            (_("Rename"), RenameScreen.BINDINGS),
        ]
        return [(screen, [binding for binding in bindings if isinstance(binding, Binding)]) for screen, bindings in groups]

    def keymap_conflicts(self, keymap: dict[str, str]) -> list[str]:
        """Return "key (Action, Action)" for each key that `keymap` gives to two actions of one screen.

        A screen's keys include those that work on every screen. Only a key
        that `keymap` assigns counts, so the default keys never conflict here.
        """
        groups = self._binding_groups()
        app_bindings = groups[0][1]
        conflicts: list[str] = []
        for _screen, screen_bindings in groups:
            actions_by_key: dict[str, list[Binding]] = {}
            scope = screen_bindings if screen_bindings is app_bindings else [*app_bindings, *screen_bindings]
            for binding in scope:
                assert binding.id is not None
                for key in keymap.get(binding.id, binding.key).split(","):
                    actions_by_key.setdefault(key.strip(), []).append(binding)
            for key, bindings in actions_by_key.items():
                ids = {binding.id for binding in bindings}
                if len(ids) > 1 and ids & set(keymap):
                    names = ", ".join(dict.fromkeys(_(binding.description) for binding in bindings))
                    conflict = f"{key} ({names})"
                    if conflict not in conflicts:
                        conflicts.append(conflict)
        return conflicts

    def binding_rows(self) -> list[tuple[str, str, str]]:
        """Return (keys, description, binding id) for every termchat binding, after remapping.

        Each description starts with the screen where the binding works, because
        the same key (Esc, for one) does different things on different screens.
        """
        rows: list[tuple[str, str, str]] = []
        for screen, bindings in self._binding_groups():
            for binding in bindings:
                assert binding.id is not None
                keys = self._keymap.get(binding.id, binding.key)
                shown = ", ".join(self.get_key_display(replace(binding, key=key)) for key in keys.split(","))
                description = _("{screen}: {action}").format(screen=screen, action=_(binding.description))
                rows.append((shown, description, binding.id))
        palette = _("{screen}: {action}").format(screen=_("All screens"), action=_("Command palette"))
        rows.append((self.get_key_display(Binding("ctrl+p", "")), palette, "command_palette"))
        return rows

    def action_command_palette(self) -> None:
        # Textual 8.2.8's action with a translated placeholder in place of its English one.
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=_("Search for commands…")))

    def search_themes(self) -> None:
        # The Theme command's palette, Textual 8.2.8's own with a translated placeholder.
        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder=_("Search for themes…")))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own commands with translated titles and help. The callbacks and
        # conditions are those of App.get_system_commands in Textual 8.2.8, which
        # yields English text only.
        yield SystemCommand(_("Theme"), _("Change the current theme"), self.action_change_theme)
        yield SystemCommand(_("Quit"), _("Quit the application as soon as possible"), self.action_quit)
        if screen.query("HelpPanel"):
            yield SystemCommand(_("Keys"), _("Hide the keys and widget help panel"), self.action_hide_help_panel)
        else:
            yield SystemCommand(
                _("Keys"), _("Show help for the focused widget and a summary of available keys"), self.action_show_help_panel
            )
        if screen.maximized is not None:
            yield SystemCommand(_("Minimize"), _("Minimize the widget and restore to normal size"), screen.action_minimize)
        elif screen.focused is not None and screen.focused.allow_maximize:
            yield SystemCommand(_("Maximize"), _("Maximize the focused widget"), screen.action_maximize)
        yield SystemCommand(
            _("Screenshot"),
            _("Save an SVG screenshot of the current screen"),
            lambda: self.set_timer(0.1, self.deliver_screenshot),
        )

        chat = self.chat
        yield SystemCommand(_("Help"), _("List every key binding"), self.action_help)
        yield SystemCommand(_("Sessions"), _("Browse, search, open and delete conversations"), self.action_sessions)
        yield SystemCommand(_("Settings"), _("Change temperature, top-k, top-p and more"), self.action_settings)
        yield SystemCommand(_("New chat"), _("Start an empty conversation"), self.action_new_chat)
        yield SystemCommand(_("Stop reply"), _("Stop the reply being written"), chat.action_stop)
        yield SystemCommand(_("Regenerate"), _("Write the last reply again"), chat.action_regenerate)
        yield SystemCommand(_("Edit last message"), _("Put the last message back in the composer"), chat.action_edit_last)
        yield SystemCommand(_("Copy reply"), _("Copy the last reply to the clipboard"), chat.action_copy_reply)
        yield SystemCommand(_("Copy code block"), _("Copy the last code block of the last reply"), chat.action_copy_code)
        yield SystemCommand(_("Export conversation"), _("Save this conversation as Markdown"), self.action_export)
