"""The JSON and Markdown export formats, and validation of JSON on import.

JSON export, version 1:

    {
      "format": "termchat-conversation",
      "version": 1,
      "conversation": {"id", "title", "created_at", "updated_at", "model", "settings"},
      "messages": [{"role", "content", "created_at", "status", "metadata"}, ...]
    }

Times are Unix seconds as floats, which JSON carries without loss, so an
import followed by an export gives the same text. Message ids are local to a
database and are not exported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from termchat.i18n import _
from termchat.store.errors import StoreError
from termchat.store.models import Conversation, StoredMessage
from termchat.store.text import clean_text, clean_value

FORMAT_NAME = "termchat-conversation"
FORMAT_VERSION = 1

_ROLES = ("system", "user", "assistant")
_STATUSES = ("complete", "stopped", "error", "streaming")


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    role: str
    content: str
    created_at: float
    status: str
    metadata: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ImportedConversation:
    """A validated JSON export, ready to insert."""

    conversation_id: str
    title: str
    created_at: float
    updated_at: float
    model: str
    settings: dict[str, Any]
    messages: list[ImportedMessage]


def describe_settings(settings: Mapping[str, object]) -> str:
    """Return saved generation settings as one line of `key = value` pairs, without the system prompt.

    A seed of None means a new random seed for each reply, so it reads "random".
    """
    pairs = []
    for key, value in settings.items():
        if key == "system_prompt":
            continue
        if key == "seed" and value is None:
            value = _("random")
        pairs.append(f"{key} = {value}")
    return ", ".join(pairs)


def to_json(conversation: Conversation, messages: list[StoredMessage]) -> str:
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "conversation": {
            "id": conversation.id,
            "title": conversation.title,
            "created_at": conversation.created_at,
            "updated_at": conversation.updated_at,
            "model": conversation.model,
            "settings": conversation.settings,
        },
        "messages": [
            {
                "role": message.role,
                "content": message.content,
                "created_at": message.created_at,
                "status": message.status,
                "metadata": message.metadata,
            }
            for message in messages
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_markdown(conversation: Conversation, messages: list[StoredMessage]) -> str:
    """Render the conversation as Markdown for reading. Markdown cannot be imported back."""
    role_names = {"system": _("System"), "user": _("User"), "assistant": _("Assistant")}
    title = conversation.title or _("(untitled)")
    lines = [
        f"# {title}",
        "",
        _("- Conversation: `{id}`").format(id=conversation.id),
        _("- Model: `{model}`").format(model=conversation.model),
        _("- Created: {time}").format(time=format_time(conversation.created_at)),
        _("- Last activity: {time}").format(time=format_time(conversation.updated_at)),
    ]
    described = describe_settings(conversation.settings)
    if described:
        lines.append(_("- Settings: {settings}").format(settings=described))
    system_prompt = conversation.settings.get("system_prompt")
    if system_prompt:
        heading = _("System prompt")
        lines += ["", f"## {heading}", "", str(system_prompt)]

    for message in messages:
        lines += ["", f"## {role_names.get(message.role, message.role)}", "", message.content]
        if message.status != "complete":
            lines += ["", _("*Status: {status}*").format(status=message.status)]
    return "\n".join(lines) + "\n"


def format_time(timestamp: float) -> str:
    """Format Unix time as UTC, to the minute, for lists and exports."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def from_json(text: str) -> ImportedConversation:
    """Parse and validate a JSON export, or raise StoreError(reason="invalid") naming the invalid field."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(_("not valid JSON ({error})").format(error=error)) from error
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise _invalid(_("the \"format\" field is not {name!r}").format(name=FORMAT_NAME))
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise _invalid(
            _("export version {found!r} is not supported; this termchat reads version {supported}").format(
                found=version, supported=FORMAT_VERSION
            )
        )

    conversation = _field(document, "conversation", dict, "")
    conversation_id = _field(conversation, "id", str, "conversation.")
    if len(conversation_id) != 32 or any(character not in "0123456789abcdef" for character in conversation_id):
        raise _invalid(_("conversation.id must be 32 lowercase hexadecimal digits"))
    raw_messages = _field(document, "messages", list, "")

    messages = [_parse_message(item, index) for index, item in enumerate(raw_messages)]
    return ImportedConversation(
        conversation_id=conversation_id,
        title=clean_text(_field(conversation, "title", str, "conversation.")),
        created_at=_time(conversation, "created_at", "conversation."),
        updated_at=_time(conversation, "updated_at", "conversation."),
        model=clean_text(_field(conversation, "model", str, "conversation.")),
        settings=clean_value(_field(conversation, "settings", dict, "conversation.")),
        messages=messages,
    )


def _parse_message(item: object, index: int) -> ImportedMessage:
    prefix = f"messages[{index}]."
    if not isinstance(item, dict):
        raise _invalid(_("messages[{index}] must be an object").format(index=index))
    role = _field(item, "role", str, prefix)
    if role not in _ROLES:
        raise _invalid(_("{field} must be one of {allowed}").format(field=prefix + "role", allowed=", ".join(_ROLES)))
    status = _field(item, "status", str, prefix)
    if status not in _STATUSES:
        raise _invalid(
            _("{field} must be one of {allowed}").format(field=prefix + "status", allowed=", ".join(_STATUSES))
        )
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _invalid(_("{field} must be an object or null").format(field=prefix + "metadata"))
    return ImportedMessage(
        role=role,
        content=clean_text(_field(item, "content", str, prefix)),
        created_at=_time(item, "created_at", prefix),
        # No process is writing an imported reply any more.
        status="stopped" if status == "streaming" else status,
        metadata=clean_value(metadata) if metadata is not None else None,
    )


def _field(container: dict[str, Any], name: str, kind: type, prefix: str) -> Any:
    value = container.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = {dict: _("an object"), list: _("a list"), str: _("a string")}.get(kind, kind.__name__)
        raise _invalid(_("{field} must be {expected}").format(field=prefix + name, expected=expected))
    return value


def _time(container: dict[str, Any], name: str, prefix: str) -> float:
    value = container.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _invalid(_("{field} must be a number of seconds").format(field=prefix + name))
    return float(value)


def _invalid(detail: str) -> StoreError:
    return StoreError(
        _("Could not import: the file is not a termchat JSON export: {detail}. "
          "Export conversations with 'termchat sessions export ID --format json'.").format(detail=detail),
        reason="invalid",
    )
