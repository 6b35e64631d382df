"""The generation settings form: sampling values and the system prompt."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static, TextArea

from termchat.engine import GenerationSettings, SettingsError
from termchat.engine.settings import MAX_SEED
from termchat.i18n import N_, _
from termchat.tui.text import visible_controls
from termchat.tui.widgets.footer import KeyBar

# Fields edited in an Input, in display order, with their labels and range hints.
# The system prompt is edited in a TextArea and handled apart.
INPUT_FIELDS: tuple[tuple[str, str], ...] = (
    ("temperature", N_("Temperature")),
    ("top_k", N_("Top-k")),
    ("top_p", N_("Top-p")),
    ("max_new_tokens", N_("Max new tokens")),
    ("repetition_penalty", N_("Repetition penalty")),
    ("seed", N_("Seed")),
)
INPUT_FIELD_NAMES = frozenset(name for name, _label in INPUT_FIELDS)

_HINTS = {
    "temperature": N_("0 or more. 0 means greedy decoding."),
    "top_k": N_("Integer, 0 or more. 0 turns top-k off."),
    "top_p": N_("Greater than 0, at most 1. 1 turns top-p off."),
    "max_new_tokens": N_("Integer, 1 or more."),
    "repetition_penalty": N_("Greater than 0. 1 means no penalty."),
    "seed": N_("Integer from 0 to {max}. Empty means a random seed."),
    "system_prompt": N_("Text placed before the conversation. Empty means none."),
}
_MAX_NEW_TOKENS_HINT_WITH_CONTEXT = N_("Integer from 1 to {limit}, because the model's context is {size} tokens.")


@dataclass(frozen=True, slots=True)
class SettingsResult:
    """The saved settings, and whether they also become the user's defaults."""

    settings: GenerationSettings
    save_as_default: bool


def range_hint(field: str, context_size: int | None) -> str:
    """Return the translated allowed range of `field`, shown next to its input."""
    if field == "max_new_tokens" and context_size is not None:
        return _(_MAX_NEW_TOKENS_HINT_WITH_CONTEXT).format(limit=context_size - 1, size=context_size)
    if field == "seed":
        return _(_HINTS["seed"]).format(max=MAX_SEED)
    return _(_HINTS[field])


def _input_text(value: Any) -> str:
    return "" if value is None else str(value)


if TYPE_CHECKING:
    _WidgetBase = Widget
else:
    _WidgetBase = object


class _OwnBindingsMixin(_WidgetBase):
    """Run the widget's own key bindings when the widget handles the key.

    Textual 8.2.8 runs a focused widget's bindings only when the unhandled Key
    event has bubbled back to the App, and looks them up on the widget focused
    at that moment. After Enter or Tab moved the focus in the same burst, a key
    typed before it ran the next field's binding: "ctrl+k 5 enter" emptied
    Top-k. Keys without a binding here still bubble up to the screen and app.
    """

    async def _on_key(self, event: events.Key) -> None:
        if self.check_consume_key(event.key, event.character):
            return  # The widget's own Key handler inserts the character.
        bindings = self._bindings.copy()
        keymap = self.app._keymap
        if keymap:
            bindings.apply_keymap(keymap)
        for binding in bindings.key_to_bindings.get(event.key, ()):
            # Priority bindings were already checked when the app received the key.
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                return


class _FieldInput(_OwnBindingsMixin, Input):
    pass


class _PromptArea(_OwnBindingsMixin, TextArea):
    pass


class _FormButton(_OwnBindingsMixin, Button):
    pass


class SettingsScreen(ModalScreen[SettingsResult | None]):
    """Edit `settings` and dismiss with a SettingsResult on save, or None on cancel.

    Each input is validated on every change by GenerationSettings itself, and
    max_new_tokens also against `context_size` when the model is known. An
    invalid field shows the SettingsError message under it, and Save stays
    refused until every field is valid.
    """

    DEFAULT_CSS = """
    SettingsScreen {
        align: center middle;
    }
    SettingsScreen > Vertical {
        width: 96;
        max-width: 98%;
        height: auto;
        max-height: 95%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    SettingsScreen #heading {
        text-style: bold;
    }
    SettingsScreen VerticalScroll {
        height: auto;
        max-height: 65vh;
    }
    SettingsScreen .field {
        height: auto;
    }
    SettingsScreen .field Horizontal {
        height: auto;
    }
    SettingsScreen .field-label {
        width: 22;
        padding: 1 1 0 0;
    }
    SettingsScreen .field Input {
        width: 18;
    }
    SettingsScreen .field-hint {
        width: 1fr;
        padding: 1 0 0 1;
        color: $text-muted;
    }
    SettingsScreen .field-error {
        color: $error;
        padding-left: 22;
        height: auto;
    }
    SettingsScreen .field-error.-empty {
        display: none;
    }
    SettingsScreen #system_prompt {
        height: 6;
    }
    SettingsScreen #form-error {
        color: $error;
        height: auto;
    }
    SettingsScreen #form-error.-empty {
        display: none;
    }
    SettingsScreen #buttons {
        height: auto;
        align-horizontal: right;
    }
    SettingsScreen #buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", _("Save"), id="settings_save"),
        Binding("escape", "cancel", _("Cancel"), id="settings_cancel"),
        # Priority bindings, so the focus moves before the app forwards the next key.
        # With the Screen's own Tab bindings, keys typed right after Tab reached the
        # field being left: "Tab 2 0" in one burst changed the temperature. Enter in
        # a number field had the same problem while the Input's own binding handled it.
        # Each action first waits until the focused widget has handled the keys typed before it.
        Binding("tab", "next_field", _("Next field"), show=False, priority=True, id="settings_next_field"),
        Binding(
            "shift+tab", "previous_field", _("Previous field"), show=False, priority=True,
            id="settings_previous_field",
        ),
        Binding(
            "enter", "accept_field", _("Check the value and go to the next field"), show=False, priority=True,
            id="settings_accept_field",
        ),
    ]

    def __init__(self, settings: GenerationSettings, context_size: int | None) -> None:
        super().__init__()
        self.original = settings
        self.context_size = context_size
        self._shown_prompt = visible_controls(settings.system_prompt)
        self.errors: dict[str, str] = {}
        """The current SettingsError message of each invalid field."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(_("Generation settings"), id="heading")
            with VerticalScroll():
                for name, label in INPUT_FIELDS:
                    with Vertical(classes="field"):
                        with Horizontal():
                            yield Label(_(label), classes="field-label")
                            yield _FieldInput(
                                value=_input_text(getattr(self.original, name)),
                                id=name,
                                select_on_focus=True,
                            )
                            yield Static(range_hint(name, self.context_size), classes="field-hint", markup=False)
                        yield Static("", id=f"{name}-error", classes="field-error -empty", markup=False)
                with Vertical(classes="field"):
                    with Horizontal():
                        yield Label(_("System prompt"), classes="field-label")
                        yield Static(range_hint("system_prompt", None), classes="field-hint", markup=False)
                    # A TextArea sends control characters to the terminal, so they are shown
                    # in caret notation. An edited prompt keeps that visible form.
                    yield _PromptArea(self._shown_prompt, id="system_prompt", soft_wrap=True)
            yield Static("", id="form-error", classes="-empty", markup=False)
            with Horizontal(id="buttons"):
                yield _FormButton(_("Save"), variant="primary", id="save")
                yield _FormButton(_("Save as default"), id="save-default")
                yield _FormButton(_("Cancel"), id="cancel")
        yield KeyBar()

    def on_mount(self) -> None:
        # Settings saved under a larger model can exceed this model's context.
        if self.context_size is not None:
            self._validate_field("max_new_tokens")
        self.query_one("#temperature", Input).focus()

    @property
    def current_settings(self) -> GenerationSettings:
        """The settings as edited, with the original value for every invalid field."""
        valid = {
            name: self._field_text(name)
            for name, _label in INPUT_FIELDS
            if name not in self.errors
        }
        prompt = self.query_one("#system_prompt", TextArea).text
        if prompt != self._shown_prompt:
            valid["system_prompt"] = prompt
        return GenerationSettings.from_mapping(valid, base=self.original)

    def _field_text(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value

    def _check(self, name: str, text: str) -> None:
        """Raise SettingsError when `text` is not a valid value for the field `name`."""
        candidate = GenerationSettings.from_mapping({name: text}, base=self.original)
        if name == "max_new_tokens" and self.context_size is not None:
            candidate.check_context(self.context_size)

    def _validate_field(self, name: str) -> bool:
        try:
            self._check(name, self._field_text(name))
        except SettingsError as error:
            # The error sits under the field's label, so it leaves out the setting's name.
            self._set_error(name, error.detail)
            return False
        self._set_error(name, "")
        return True

    def _set_error(self, name: str, message: str) -> None:
        if message:
            self.errors[name] = message
        else:
            self.errors.pop(name, None)
        self.query_one(f"#{name}", Input).set_class(bool(message), "-invalid")
        error = self.query_one(f"#{name}-error", Static)
        error.update(message)
        error.set_class(not message, "-empty")
        if not self.errors:
            self._set_form_error("")

    def _set_form_error(self, message: str) -> None:
        form_error = self.query_one("#form-error", Static)
        form_error.update(message)
        form_error.set_class(not message, "-empty")

    @on(Input.Changed)
    def _on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id is not None:
            self._validate_field(event.input.id)

    async def _wait_for_earlier_keys(self) -> None:
        """Wait until the focused widget has handled every key the app forwarded to it earlier.

        The app forwards each key to the focused widget's message queue and reads
        the next key at once, so keys typed in the same burst as Enter or Tab may
        still be queued there. The app reads no further key while this waits.
        """
        # NOTE: this waits forever if the widget's key handling waits for the app.
        # No binding of the form's Input, TextArea and Button does that in Textual 8.2.8.
        focused = self.focused
        if focused is None:
            return
        handled = asyncio.Event()
        if focused.call_later(handled.set):
            await handled.wait()

    async def action_next_field(self) -> None:
        await self._wait_for_earlier_keys()
        self.focus_next()

    async def action_previous_field(self) -> None:
        await self._wait_for_earlier_keys()
        self.focus_previous()

    async def action_accept_field(self) -> None:
        """Validate the focused number field and move to the next field if the value is valid.

        The value checked includes every key typed before Enter. Raises
        SkipAction anywhere else, so Enter still presses a button and adds a
        line to the system prompt.
        """
        focused = self.focused
        if not isinstance(focused, Input) or focused.id not in INPUT_FIELD_NAMES:
            raise SkipAction()
        await self._wait_for_earlier_keys()
        if self._validate_field(focused.id):
            self.focus_next()

    # Reached only when the keymap moves settings_accept_field off Enter, because
    # the Input's own Enter binding then posts Submitted.
    @on(Input.Submitted)
    def _on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id is not None and self._validate_field(event.input.id):
            self.focus_next()

    def _build_result(self, save_as_default: bool) -> SettingsResult | None:
        """Validate every field and return the result, or None after showing what is invalid."""
        for name, _label in INPUT_FIELDS:
            self._validate_field(name)
        if self.errors:
            self._set_form_error(_("Some values are invalid. Correct them before saving."))
            first_invalid = next(name for name, _label in INPUT_FIELDS if name in self.errors)
            self.query_one(f"#{first_invalid}", Input).focus()
            return None
        return SettingsResult(self.current_settings, save_as_default)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        result = self._build_result(save_as_default=False)
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#save-default")
    def action_save_as_default(self) -> None:
        result = self._build_result(save_as_default=True)
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
