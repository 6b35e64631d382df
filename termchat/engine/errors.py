"""Errors the engine raises: each message is one line naming the value and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from termchat.engine.types import Reply


class EngineError(Exception):
    """Base class for errors that are shown to the user as one line."""


class ModelLoadError(EngineError):
    """The model could not be found, read or placed on the requested device."""


class GenerationError(EngineError):
    """Generation failed inside the backend.

    `reply` contains the text produced before the failure, with stop reason
    ERROR, when the error ended a stream; it is None otherwise.
    """

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class SettingsError(EngineError, ValueError):
    """A generation setting is invalid.

    The message starts with the setting's name, as the config file spells
    it. `detail` is the same message without the name, for a place that
    names the setting itself, such as a form field or a command-line option.
    """

    def __init__(self, field: str, value: object, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.detail = detail if detail is not None else message
