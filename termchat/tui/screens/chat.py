"""The chat screen: message list, composer, status line and the reply worker."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from termchat.engine import ChatBackend, ChatMessage, GenerationSettings, LoadProgress, Reply, StopReason
from termchat.i18n import _
from termchat.store.errors import StoreError
from termchat.store.text import make_title
from termchat.tui.text import literal
from termchat.tui.widgets.chat_message import AssistantMessage, ChatEntry, last_code_block
from termchat.tui.widgets.composer import Composer
from termchat.tui.widgets.footer import KeyBar
from termchat.tui.widgets.message_list import MessageList
from termchat.tui.widgets.status_bar import LoadPanel, StatusBar, StatusInfo, short_model_name
from termchat.tui.widgets.title_bar import TitleBar
from termchat.tui.worker import ThreadedReply, run_in_daemon_thread

if TYPE_CHECKING:
    from termchat.store import Conversation, ConversationRecorder, Store, StoredMessage
    from termchat.tui.app import TermchatApp

log = logging.getLogger(__name__)

RETRY_SAVE_SECONDS = 5.0
"""Seconds between attempts to save text that the store rejected (disk full, database locked)."""



def engine_messages(entries: list[ChatEntry]) -> list[ChatMessage]:
    """Return the conversation as the engine takes it, leaving out empty replies."""
    messages: list[ChatMessage] = []
    for entry in entries:
        if entry.role not in ("user", "assistant"):
            continue
        if entry.role == "assistant" and not entry.content:
            continue
        messages.append(ChatMessage(entry.role, entry.content))  # type: ignore[arg-type]
    return messages


def reply_speed_and_context(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Return the status line's tokens per second and context use from a reply's metadata.

    `metadata` is a live reply's `ReplyMetadata.to_dict()` or the metadata
    saved with a reply. A value that is missing or not a number gives None.
    """
    tokens_in, tokens_out = metadata.get("tokens_in"), metadata.get("tokens_out")
    used = tokens_in + tokens_out if isinstance(tokens_in, int) and isinstance(tokens_out, int) else None
    rate = metadata.get("tokens_per_second")
    return {"tokens_per_second": rate if isinstance(rate, (int, float)) else None, "context_used": used}


class ChatScreen(Screen[None]):
    """One conversation: read it, write to it, stop, regenerate and edit replies."""

    BINDINGS = [
        Binding("escape", "stop", _("Stop reply"), id="stop"),
        Binding("ctrl+r", "regenerate", _("Regenerate"), id="regenerate"),
        Binding("ctrl+g", "edit_last", _("Edit last message"), id="edit_last"),
        Binding("f3", "copy_reply", _("Copy reply"), id="copy_reply", show=False),
        Binding("f4", "copy_code", _("Copy code block"), id="copy_code", show=False),
    ]

    update_interval = 0.1
    """Minimum seconds between two screen updates of a streaming reply."""
    max_update_interval = 1.0
    """Maximum seconds between two screen updates of a streaming reply."""
    update_cpu_share = 0.01
    """Share of time the event loop may spend on CPU while a reply streams.

    The pause after each update is the loop's CPU time since the previous
    update divided by this share, kept between `update_interval` and
    `max_update_interval`. On a machine where torch uses every core, CPU time
    on the loop thread is taken from the model. One update of a growing
    Markdown reply took about 10 to 20 ms of loop CPU on a 2-core machine
    (Textual's layout and rendering), so updates come about once a second
    there. On a 124M GPT-2 the app showed about 0.91 of the engine's tokens
    per second with 3 % and 0.5 s, and 0.94 to 0.98 with 1 % and 1 s
    (docs/benchmarks.md).
    """

    def __init__(
        self, store: Store | None, settings: GenerationSettings, conversation_id: str | None = None
    ) -> None:
        super().__init__()
        self.store = store
        """None until the app has opened the database, which it does after the first frame."""
        self.initial_conversation_id = conversation_id
        """Conversation shown first: a saved one to resume, or None for a new one."""
        self.store_error: str | None = None
        """Reason the database could not be opened. Nothing can be sent while it is set."""
        self.settings = settings
        """Settings of the next reply; the settings screen changes them."""
        self.conversation: Conversation | None = None
        self.recorder: ConversationRecorder | None = None
        self.opening = False
        """True while a saved conversation is read; sending waits for it."""
        self._generating = False
        self.last_reply_stats: dict[str, float] = {}
        """Deltas, characters and seconds on screen of the last reply, for benchmarks."""
        self._reply: ThreadedReply | None = None
        self._reply_widget: AssistantMessage | None = None
        self._reply_settings: GenerationSettings | None = None
        self._retry_timer: Any = None

    @property
    def termchat(self) -> TermchatApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield MessageList(assistant_name=self._assistant_name, id="messages")
        yield LoadPanel(id="load-panel")
        yield Static(id="store-error")
        yield Composer(id="composer", placeholder=_("Message (Enter sends, Ctrl+J adds a new line)"))
        yield StatusBar(id="status")
        yield KeyBar()

    def on_unmount(self) -> None:
        # Any exit path, not only Ctrl+Q, must leave the partial reply saved.
        self.close_reply_now()

    async def on_mount(self) -> None:
        self.title = _("termchat")
        self.sub_title = _("New conversation")
        self.query_one(Composer).focus()
        if self.store is not None:
            # The database was opened before the app started (with --resume).
            # Otherwise the app opens it after the first frame and then calls
            # open_conversation itself.
            await self.open_conversation(self.initial_conversation_id)

    @property
    def generating(self) -> bool:
        """True from the start of a reply until it is saved, so that two replies never run at once."""
        return self._generating

    @generating.setter
    def generating(self, value: bool) -> None:
        self._generating = value
        # A blinking cursor redraws the screen twice a second, and while a reply
        # streams every redraw takes CPU time from the model. It stays solid then.
        for composer in self.query(Composer):
            composer.cursor_blink = not value
        self.refresh_bindings()  # The key bar dims "Stop reply" while no reply runs.

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop" and not self.generating:
            return None  # Shown dimmed: Esc has nothing to stop.
        return True

    @property
    def message_list(self) -> MessageList:
        return self.query_one(MessageList)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def _assistant_name(self, entry: ChatEntry) -> str:
        # A reply names the model that wrote it. Replies saved without one fall back
        # to the conversation's model, so a resumed conversation reads like a live one.
        model = (entry.metadata or {}).get("model")
        if not model and self.conversation is not None:
            model = self.conversation.model
        backend = self.termchat.backend
        if not model and backend is not None:
            model = backend.info.model_id
        return short_model_name(model) if model else _("Assistant")

    # Model state, driven by the app.

    def show_load_progress(self, progress: LoadProgress) -> None:
        self.query_one(LoadPanel).show_progress(progress)
        self._set_status(state=_("Loading model"))

    def show_load_error(self, message: str) -> None:
        self.query_one(LoadPanel).show_error(message)
        self._set_status(state=_("No model loaded"))

    def show_load_error_keeping_model(self, message: str, backend: ChatBackend) -> None:
        """Report a failed load while the model that was loaded before stays in use."""
        self.query_one(LoadPanel).hide()
        self._set_status(state="")
        self.notify(
            _("{error} Still using {model}.").format(error=message, model=short_model_name(backend.info.model_id)),
            severity="error",
            timeout=12,
            markup=False,
        )

    def backend_ready(self, backend: ChatBackend) -> None:
        """Show the loaded model, then start the reply to a message queued while it loaded."""
        self.query_one(LoadPanel).hide()
        self.status_bar.show_status(StatusInfo.from_model(backend.info))
        self._show_saved_reply_facts()
        entries = self.message_list.entries
        if entries and entries[-1].role == "user":
            if entries[-1].status == "queued":
                self._mark_sent(entries[-1])
                self.start_reply()
            else:
                self.notify(_("The last message has no reply yet. Press Ctrl+R to generate one."), markup=False)

    def _set_status(self, **changes: Any) -> None:
        self.status_bar.show_status(replace(self.status_bar.status, **changes))

    def store_ready(self, store: Store) -> None:
        self.store = store

    def show_store_error(self, message: str) -> None:
        self.store_error = message
        notice = self.query_one("#store-error", Static)
        notice.update(literal(self._cannot_save_text()))
        notice.display = True

    def notify_store_error(self) -> None:
        """Notify that nothing can be saved, with the reason the database could not be opened."""
        self.notify(self._cannot_save_text(), severity="error", markup=False)

    def _cannot_save_text(self) -> str:
        return _("Conversations cannot be saved: {error}").format(error=self.store_error)

    # Opening conversations.

    async def open_conversation(self, conversation_id: str | None) -> None:
        """Show the saved conversation `conversation_id`, or an empty new one when it is None."""
        await self.stop_for_switch()
        self.recorder = None
        self.conversation = None
        entries: list[ChatEntry] = []
        if conversation_id is not None:
            self.opening = True
            # Read in a thread: 10,000 messages took about 150 ms on a 2-core machine,
            # long enough to freeze typing if read on the event loop.
            try:
                self.conversation, stored = await run_in_daemon_thread(
                    self._read_conversation, conversation_id, name="termchat-open"
                )
            except StoreError as error:
                self.notify(str(error), severity="error", markup=False)
                stored = []
                self.conversation = None
            finally:
                self.opening = False
            entries = [
                ChatEntry(message.role, message.content, message.status, message.id, message.metadata)
                for message in stored
            ]
        if self.conversation is not None:
            self.settings = self._saved_settings(self.conversation)
            self.recorder = self._recorder(self.conversation.id)
            self.sub_title = self.conversation.title or _("Untitled conversation")
        else:
            self.settings = self.termchat.config.generation
            self.sub_title = _("New conversation")
        await self.message_list.show(entries)
        self._show_saved_reply_facts()

        backend = self.termchat.backend
        if backend is not None and entries and entries[-1].role == "user":
            self.notify(_("The last message has no reply yet. Press Ctrl+R to generate one."), markup=False)

    def show_stored_conversation(self, conversation: Conversation) -> None:
        """Update the open conversation and the title line from `conversation`, read again from the store after a rename."""
        if self.conversation is None or conversation.id != self.conversation.id:
            return
        self.conversation = conversation
        self.sub_title = conversation.title or _("Untitled conversation")

    def _read_conversation(self, conversation_id: str) -> tuple[Conversation, list[StoredMessage]]:
        assert self.store is not None
        return self.store.get_conversation(conversation_id), self.store.messages(conversation_id)

    def _recorder(self, conversation_id: str) -> ConversationRecorder:
        # Imported here: the store package is loaded after the first frame (see TermchatApp).
        from termchat.store import ConversationRecorder

        assert self.store is not None
        return ConversationRecorder(self.store, conversation_id)

    def _saved_settings(self, conversation: Conversation) -> GenerationSettings:
        try:
            return GenerationSettings.from_mapping(conversation.settings, base=self.termchat.config.generation)
        except ValueError as error:
            log.warning("Ignoring invalid saved settings of conversation %s: %s", conversation.id, error)
            return self.termchat.config.generation

    def _ensure_conversation(self, first_message: str) -> ConversationRecorder | None:
        if self.recorder is not None:
            return self.recorder
        if self.store is None:
            return None
        try:
            self.conversation = self.store.create_conversation(
                self.termchat.model_name, self.settings.to_dict(), title=make_title(first_message)
            )
        except StoreError as error:
            log.warning("Could not create a conversation: %s", error)
            self.notify(str(error), severity="error", markup=False)
            return None
        self.recorder = self._recorder(self.conversation.id)
        self.sub_title = self.conversation.title or _("Untitled conversation")
        return self.recorder

    # Sending.

    @on(Composer.Submitted)
    async def send(self, event: Composer.Submitted) -> None:
        text = event.text
        if self.generating:
            self.composer.restore(text)
            self.notify(
                _("A reply is still being written. Press Esc to stop it, then send."),
                severity="warning",
                markup=False,
            )
            return
        if self.store_error is not None:
            self.composer.restore(text)
            self.notify_store_error()
            return
        if self.opening or self.store is None:
            self.composer.restore(text)
            self.notify(
                _("The conversation is still opening; send again in a moment."),
                severity="warning",
                markup=False,
            )
            return
        recorder = self._ensure_conversation(text)
        if recorder is None:
            self.composer.restore(text)
            return

        stored = recorder.add_user_message(text)
        self._report_save_problem()
        ready = self.termchat.backend is not None
        entry = ChatEntry("user", text, "complete" if ready else "queued", stored.id if stored else None)
        await self.message_list.add(entry)
        self.message_list.scroll_end(animate=False)
        if ready:
            self.start_reply()
        elif self.termchat.load_error:
            self.notify(
                _("No model is loaded; the message will be answered once one loads."),
                severity="warning",
                markup=False,
            )

    def _mark_sent(self, entry: ChatEntry) -> None:
        entry.status = "complete"
        for widget in self.message_list.query(".queued"):
            widget.set_status("complete")  # type: ignore[attr-defined]

    def start_reply(self) -> bool:
        """Start generating a reply to the conversation; return False when that is not possible now."""
        backend = self.termchat.backend
        if self.generating or backend is None or self.recorder is None:
            return False
        self.generating = True
        self.run_worker(self._generate(backend), group="reply", exclusive=True, exit_on_error=False)
        return True

    async def _generate(self, backend: ChatBackend) -> None:
        recorder = self.recorder
        assert recorder is not None
        settings = self.settings
        messages = engine_messages(self.message_list.entries)
        reply = ThreadedReply(backend, messages, settings)
        self._reply, self._reply_settings = reply, settings

        recorder.start_reply()
        self._report_save_problem()
        entry = ChatEntry("assistant", "", "streaming", metadata={"model": backend.info.model_id})
        widget = await self.message_list.add(entry)
        assert isinstance(widget, AssistantMessage)
        self._reply_widget = widget
        self._set_status(state=_("Generating"))
        # Start the model after the database write and the widget mount. Run
        # during prompt processing, their 10 ms delayed the first token by
        # about 29 ms, because torch uses every core, so overlapping them
        # gained nothing (benchmarks/tui_speed.py on a 2-core machine).
        reply.start()
        log.info("Reply started in conversation %s", recorder.conversation_id)

        started = time.perf_counter()
        deltas = 0
        cycle_started = time.thread_time()
        async for batch in reply.batches():
            if self._reply is not reply:
                return  # Closed for quit or a conversation switch; the text is saved.
            if batch.plan is not None:
                # The prompt's token count is known before the first token, so the status
                # line shows it while the reply streams. The end of the reply adds its tokens.
                self._set_status(
                    context_used=batch.plan.tokens_in,
                    context_size=batch.plan.context_size,
                    turns_dropped=batch.plan.turns_dropped,
                    truncated_current=batch.plan.truncated_current,
                )
            if batch.text:
                recorder.append_reply(batch.text)
                await widget.append(batch.text)
                deltas += batch.delta_count
            if batch.text and not batch.finished:
                # Let deltas pile up between screen updates. Each update lays out and
                # renders the screen while holding the GIL, which the model thread
                # needs for every token.
                now = time.thread_time()
                await reply.pause(self._pause_after_update(now - cycle_started))
                cycle_started = now
            if batch.finished:
                self.last_reply_stats = {
                    "deltas": deltas,
                    "characters": len(widget.entry.content),
                    "seconds": time.perf_counter() - started,
                }
                await self._close_reply(batch.reply, str(batch.error) if batch.error else None)

    def _pause_after_update(self, cpu_seconds: float) -> float:
        """Return the seconds to wait before the next update, given the loop's CPU time over the last one."""
        return min(self.max_update_interval, max(self.update_interval, cpu_seconds / self.update_cpu_share))

    async def _close_reply(self, reply: Reply | None, error: str | None) -> None:
        """Save the reply with its final status and show it; safe to call once per reply."""
        widget, recorder, settings = self._reply_widget, self.recorder, self._reply_settings
        self._reply = None
        self._reply_widget = None
        self.generating = False
        if widget is None or recorder is None or settings is None:
            return

        text = widget.entry.content
        metadata: dict[str, Any] = {**(widget.entry.metadata or {}), "settings": settings.to_dict()}
        if reply is not None:
            status = reply.status
            metadata.update(reply.metadata.to_dict())
            text = reply.text or text
        else:
            status = "error" if error else "stopped"
            metadata["stop_reason"] = str(StopReason.ERROR if error else StopReason.CANCELLED)
        if error:
            status = "error"
            metadata["error"] = error

        stored = recorder.finish_reply(text, status, metadata)
        self._report_save_problem()
        widget.entry.metadata = metadata
        widget.entry.message_id = stored.id if stored else None
        note = error or ""
        await widget.finish(status, note)
        self._show_reply_facts(reply)
        log.info("Reply ended in conversation %s with status %s", recorder.conversation_id, status)

    def _show_saved_reply_facts(self) -> None:
        """Show the speed and context use saved with the conversation's last reply, or none.

        A resumed conversation shows no notice of dropped turns: the next
        reply's prompt is planned anew.
        """
        last = self._last_reply()
        facts = (last.metadata or {}) if last is not None else {}
        self._set_status(**reply_speed_and_context(facts), turns_dropped=0, truncated_current=False)

    def _show_reply_facts(self, reply: Reply | None) -> None:
        if reply is None:
            self._set_status(state="")
            return
        facts = reply.metadata
        self._set_status(
            **reply_speed_and_context(facts.to_dict()),
            context_size=facts.context_size,
            turns_dropped=facts.turns_dropped,
            state="",
        )

    def close_reply_now(self) -> None:
        """Stop the running reply and save its text as stopped without waiting for the model thread.

        Used before quitting and before switching conversations.
        """
        reply, widget, recorder, settings = self._reply, self._reply_widget, self.recorder, self._reply_settings
        if reply is None:
            return
        reply.cancel.set()
        self._reply = None
        self._reply_widget = None
        self.generating = False
        if widget is not None and recorder is not None and settings is not None:
            metadata = {
                **(widget.entry.metadata or {}),
                "settings": settings.to_dict(),
                "stop_reason": str(StopReason.CANCELLED),
            }
            recorder.finish_reply(widget.entry.content, "stopped", metadata)
            widget.entry.status = "stopped"
            widget.set_status("stopped")
        if recorder is not None:
            recorder.flush()

    async def stop_for_switch(self) -> None:
        self.close_reply_now()
        self.workers.cancel_group(self, "reply")

    # Save failures.

    def _report_save_problem(self) -> None:
        recorder = self.recorder
        if recorder is None or recorder.last_error is None:
            return
        self.notify(
            _("Not saved yet, retrying: {error}").format(error=recorder.last_error),
            severity="error",
            timeout=8,
            markup=False,
        )
        if self._retry_timer is None:
            self._retry_timer = self.set_interval(RETRY_SAVE_SECONDS, self._retry_save)

    def _retry_save(self) -> None:
        recorder = self.recorder
        if recorder is None or recorder.flush():
            if self._retry_timer is not None:
                self._retry_timer.stop()
                self._retry_timer = None
            if recorder is not None:
                self.notify(_("Saved the pending messages."), markup=False)

    # Actions.

    def action_stop(self) -> None:
        if self._reply is not None:
            self._reply.cancel.set()

    async def action_regenerate(self) -> None:
        if self.generating:
            self.notify(_("Wait for the reply or press Esc to stop it first."), severity="warning", markup=False)
            return
        if self.termchat.backend is None:
            self.notify(_("No model is loaded yet."), severity="warning", markup=False)
            return
        entries = self.message_list.entries
        if entries and entries[-1].role == "assistant":
            if not self._delete_entry(entries[-1]):
                return
            await self.message_list.remove_last()
        if not entries or entries[-1].role != "user":
            self.notify(_("There is no message to reply to."), severity="warning", markup=False)
            return
        self._mark_sent(entries[-1])
        self.start_reply()

    async def action_edit_last(self) -> None:
        if self.generating:
            self.notify(_("Wait for the reply or press Esc to stop it first."), severity="warning", markup=False)
            return
        if self.composer.text.strip():
            self.notify(_("Send or clear the text in the composer first."), severity="warning", markup=False)
            return
        entries = self.message_list.entries
        user_index = next((index for index in range(len(entries) - 1, -1, -1) if entries[index].role == "user"), None)
        if user_index is None or user_index < len(entries) - 2:
            self.notify(_("There is no last message to edit."), severity="warning", markup=False)
            return
        text = entries[user_index].content
        for entry in reversed(entries[user_index:]):
            if not self._delete_entry(entry):
                return
            await self.message_list.remove_last()
        self.composer.load_text(text)
        self.composer.focus()

    def _delete_entry(self, entry: ChatEntry) -> bool:
        if entry.message_id is None:
            self.notify(_("This message is not saved yet; try again in a moment."), severity="warning", markup=False)
            return False
        assert self.store is not None  # A saved message implies an open store.
        try:
            self.store.delete_message(entry.message_id)
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return False
        return True

    def _last_reply(self) -> ChatEntry | None:
        return next((entry for entry in reversed(self.message_list.entries) if entry.role == "assistant"), None)

    def action_copy_reply(self) -> None:
        reply = self._last_reply()
        if reply is None or not reply.content:
            self.notify(_("There is no reply to copy."), severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(reply.content)
        self.notify(_("Reply copied to the clipboard."), markup=False)

    def action_copy_code(self) -> None:
        reply = self._last_reply()
        code = last_code_block(reply.content) if reply is not None else None
        if code is None:
            self.notify(_("The last reply has no code block."), severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(code)
        self.notify(_("Code block copied to the clipboard."), markup=False)

    def apply_settings(self, settings: GenerationSettings) -> None:
        """Use `settings` from the next reply on and store them with the conversation."""
        self.settings = settings
        if self.conversation is None:
            return
        assert self.store is not None  # A conversation implies an open store.
        try:
            self.conversation = self.store.update_conversation_settings(
                self.conversation.id, self.termchat.model_name, settings.to_dict()
            )
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
