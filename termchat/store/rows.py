"""Conversion between database rows and the Conversation and StoredMessage dataclasses.

Reading is the hot path: opening a 10,000-message conversation must stay
within 2x of the raw sqlite3 query. Measured on a 2-core VM
(benchmarks/store_scale.py), the frozen dataclasses' generated `__init__`
took about as long as fetching the row, and `json.loads` of a reply's
metadata took longer. So:

- rows become objects by setting the slots directly;
- the reply measurements (METRIC_KEYS) live in their own columns, which
  sqlite3 converts in C; only the other metadata keys stay JSON;
- JSON that many rows share (conversation settings, the settings a reply
  used) is parsed once per distinct text and copied for each row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import fields
from functools import lru_cache
from itertools import compress
from typing import Any

from termchat.i18n import _
from termchat.store.errors import StoreError
from termchat.store.models import Conversation, StoredMessage
from termchat.store.text import clean_value

CONVERSATION_FIELDS = ("id", "title", "created_at", "updated_at", "model", "settings", "message_count")
MESSAGE_FIELDS = ("id", "conversation_id", "role", "content", "created_at", "status", "metadata")

METRIC_KEYS = (
    "tokens_in",
    "tokens_out",
    "time_to_first_token",
    "tokens_per_second",
    "stop_reason",
    "turns_dropped",
    "context_size",
    "error",
)
"""Metadata keys stored in columns of the same name: the fields of the engine's ReplyMetadata."""

METADATA_COLUMNS = ("metadata", "metadata_keys", *METRIC_KEYS)
"""The message columns that together hold a message's metadata."""

CONVERSATION_COLUMNS = ", ".join(CONVERSATION_FIELDS)
# The `metadata` column contains the keys that are not in a measurement column (see split_metadata).
MESSAGE_COLUMNS = ", ".join((*MESSAGE_FIELDS, "metadata_keys", *METRIC_KEYS))
MESSAGE_COLUMN_COUNT = len(MESSAGE_FIELDS) + 1 + len(METRIC_KEYS)
_METRICS_START = len(MESSAGE_FIELDS) + 1
_ALL_METRICS = (1 << len(METRIC_KEYS)) - 1

# The builders below set exactly these slots. A field added to a model must also be
# added to the query and here. Until then this import fails, so no slot is left unset.
if tuple(field.name for field in fields(Conversation)) != CONVERSATION_FIELDS:
    raise ImportError("termchat.store.rows: Conversation fields changed; update CONVERSATION_FIELDS")
if tuple(field.name for field in fields(StoredMessage)) != MESSAGE_FIELDS:
    raise ImportError("termchat.store.rows: StoredMessage fields changed; update MESSAGE_FIELDS")

_new = object.__new__


def _slot_setters(model: type, names: tuple[str, ...]) -> list[Callable[[object, Any], None]]:
    # Each slot's member descriptor writes the value without the frozen __setattr__ check.
    return [getattr(model, name).__set__ for name in names]


_CONVERSATION_SETTERS = _slot_setters(Conversation, CONVERSATION_FIELDS)
_MESSAGE_SETTERS = _slot_setters(StoredMessage, MESSAGE_FIELDS)


def dump_json(value: Any) -> str:
    """Serialise settings or metadata for storage, or raise StoreError(reason="invalid") for non-JSON values."""
    try:
        return json.dumps(clean_value(value), ensure_ascii=True, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise StoreError(
            _("Invalid settings or metadata: {error}. Only JSON values can be saved.").format(error=error),
            reason="invalid",
        ) from error


@lru_cache(maxsize=256)
def _parse_settings(text: str) -> tuple[dict[str, Any], bool]:
    """Return the parsed settings and whether every value is a scalar, so a shallow copy is a full copy."""
    settings = json.loads(text)
    scalars = all(value is None or isinstance(value, (str, int, float, bool)) for value in settings.values())
    return settings, scalars


def clear_settings_cache() -> None:
    """Forget the parsed settings and shared metadata JSON, as a newly started process has none."""
    _parse_settings.cache_clear()
    _parse_shared.cache_clear()


def _settings(text: str) -> dict[str, Any]:
    settings, scalars = _parse_settings(text)
    # Every caller gets its own dict, so changing one never changes the cached one.
    return dict(settings) if scalars else json.loads(text)


def split_metadata(metadata: dict[str, Any] | None) -> tuple[str | None, int | None, tuple[Any, ...]]:
    """Split metadata into the JSON of the other keys, the column bit mask and the METRIC_KEYS column values.

    A measurement goes into its column only when SQLite returns it unchanged:
    None, a str, an int within 64 bits (not a bool) or a finite float.
    Anything else stays in the JSON. Reading puts the column keys first, in
    METRIC_KEYS order, then the JSON keys, which is ReplyMetadata.to_dict()
    order followed by extra keys such as `settings`.
    """
    if metadata is None:
        return None, None, (None,) * len(METRIC_KEYS)
    if not isinstance(metadata, dict):
        raise StoreError(_("Invalid metadata {value!r}: expected a dict.").format(value=metadata), reason="invalid")
    metadata = clean_value(metadata)
    mask = 0
    values = []
    for bit, key in enumerate(METRIC_KEYS):
        value = metadata.get(key)
        if key in metadata and _fits_column(value):
            mask |= 1 << bit
            values.append(value)
        else:
            values.append(None)
    rest = {key: value for key, value in metadata.items() if not _in_column(key, mask)}
    return (dump_json(rest) if rest else None), mask, tuple(values)


def metadata_parameters(metadata: dict[str, Any] | None) -> tuple[Any, ...]:
    """Return the values for METADATA_COLUMNS, in that order."""
    rest, mask, values = split_metadata(metadata)
    return (rest, mask, *values)


def join_metadata(rest: str | None, mask: int | None, values: tuple[Any, ...]) -> dict[str, Any] | None:
    """Rebuild the metadata dict that split_metadata took apart."""
    if mask is None:
        # A version-1 row keeps all its metadata as JSON.
        return json.loads(rest) if rest is not None else None
    if mask == _ALL_METRICS:
        metadata = dict(zip(METRIC_KEYS, values, strict=True))
    else:
        metadata = dict(compress(zip(METRIC_KEYS, values, strict=True), _mask_selectors(mask)))
    if rest is not None:
        _add_shared_json(metadata, rest)
    return metadata


def _fits_column(value: Any) -> bool:
    kind = type(value)
    if value is None or kind is str:
        return True
    if kind is int:
        return -(2**63) <= value < 2**63
    return kind is float and math.isfinite(value)


def _in_column(key: str, mask: int) -> bool:
    try:
        return bool(mask & (1 << METRIC_KEYS.index(key)))
    except ValueError:
        return False


@lru_cache(maxsize=1 << len(METRIC_KEYS))
def _mask_selectors(mask: int) -> tuple[bool, ...]:
    return tuple(bool(mask & (1 << bit)) for bit in range(len(METRIC_KEYS)))


@lru_cache(maxsize=256)
def _parse_shared(text: str) -> tuple[dict[str, Any], tuple[str, ...] | None]:
    """Parse a JSON object that many rows share, such as {"settings": {...}}.

    Also returns the keys whose values are dicts of scalars, or None when some
    value is nested deeper, so that the caller knows how to copy it.
    """
    value = json.loads(text)
    nested = []
    for key, item in value.items():
        if type(item) is dict and all(map(_is_scalar, item.values())):
            nested.append(key)
        elif not _is_scalar(item):
            return value, None
    return value, tuple(nested)


def _add_shared_json(metadata: dict[str, Any], text: str) -> None:
    """Add the keys of the JSON object `text` to `metadata`, as objects that belong to `metadata` alone."""
    value, nested = _parse_shared(text)
    if nested is None:
        metadata.update(json.loads(text))
        return
    metadata.update(value)
    for key in nested:
        metadata[key] = metadata[key].copy()


def _is_scalar(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def conversations_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[Conversation]:
    set_id, set_title, set_created, set_updated, set_model, set_settings, set_count = _CONVERSATION_SETTERS
    conversations = []
    for row in rows:
        conversation = _new(Conversation)
        set_id(conversation, row[0])
        set_title(conversation, row[1])
        set_created(conversation, row[2])
        set_updated(conversation, row[3])
        set_model(conversation, row[4])
        set_settings(conversation, _settings(row[5]))
        set_count(conversation, row[6])
        conversations.append(conversation)
    return conversations


def messages_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[StoredMessage]:
    """Build messages from rows of MESSAGE_COLUMNS."""
    set_id, set_conversation, set_role, set_content, set_created, set_status, set_metadata = _MESSAGE_SETTERS
    messages = []
    for row in rows:
        message = _new(StoredMessage)
        set_id(message, row[0])
        set_conversation(message, row[1])
        set_role(message, row[2])
        set_content(message, row[3])
        set_created(message, row[4])
        set_status(message, row[5])
        # The common cases are inlined because this loop runs once per message.
        mask = row[7]
        if mask == _ALL_METRICS:
            metadata = dict(zip(METRIC_KEYS, row[_METRICS_START:]))
            if row[6] is not None:
                _add_shared_json(metadata, row[6])
        elif mask is None and row[6] is None:
            metadata = None
        else:
            metadata = join_metadata(row[6], mask, row[_METRICS_START:])
        set_metadata(message, metadata)
        messages.append(message)
    return messages


def conversation_from_row(row: tuple[Any, ...]) -> Conversation:
    return conversations_from_rows((row,))[0]


def message_from_row(row: tuple[Any, ...]) -> StoredMessage:
    return messages_from_rows((row,))[0]
