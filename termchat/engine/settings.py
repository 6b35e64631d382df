"""Generation settings: one validated type shared by the CLI, the TUI and the store."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from termchat.engine.errors import SettingsError
from termchat.i18n import _

MAX_SEED = 2**32 - 1


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Sampling settings and the system prompt for the next reply.

    Construction validates every field, so an instance is always usable.
    """

    temperature: float = 0.7
    """Softmax temperature, >= 0. 0 means greedy decoding."""
    top_k: int = 50
    """Sample only from the k most likely tokens, >= 0. 0 turns top-k off."""
    top_p: float = 0.95
    """Nucleus sampling probability mass, in (0, 1]. 1 turns top-p off."""
    max_new_tokens: int = 256
    """Maximum tokens in one reply, >= 1."""
    repetition_penalty: float = 1.1
    """Penalty for tokens already in the context, > 0. 1 means no penalty."""
    seed: int | None = None
    """Random seed, 0 to 2**32 - 1; the same seed, settings and prompt give the same reply."""
    system_prompt: str = ""
    """Text placed before the conversation; empty means none."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            object.__setattr__(self, field.name, _PARSERS[field.name](value))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: GenerationSettings | None = None) -> GenerationSettings:
        """Build settings from `values` (strings from a form or TOML values), over `base`.

        Unknown keys raise SettingsError so a typo in a config file is reported.
        """
        known = {field.name for field in fields(cls)}
        for key in values:
            if key not in known:
                raise SettingsError(
                    key,
                    values[key],
                    _("Unknown setting '{name}'. Known settings: {known}.").format(
                        name=key, known=", ".join(sorted(known))
                    ),
                )
        start = base if base is not None else cls()
        return dataclasses.replace(start, **dict(values))

    def replace(self, **changes: Any) -> GenerationSettings:
        """Return a copy with `changes` applied and validated."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def check_context(self, context_size: int) -> None:
        """Raise SettingsError when max_new_tokens cannot fit in the model's context."""
        if self.max_new_tokens >= context_size:
            raise SettingsError(
                "max_new_tokens",
                self.max_new_tokens,
                _("max_new_tokens: {value} does not fit the model's context of {size} tokens; "
                  "use a value from 1 to {limit}.").format(
                    value=self.max_new_tokens, size=context_size, limit=context_size - 1
                ),
                _("{value} does not fit the model's context of {size} tokens; use a value from 1 to {limit}.").format(
                    value=self.max_new_tokens, size=context_size, limit=context_size - 1
                ),
            )


def _invalid(field: str, value: object, expected: str) -> SettingsError:
    return SettingsError(
        field,
        value,
        _("{field}: invalid value {value!r}; expected {expected}.").format(
            field=field, value=value, expected=expected
        ),
        _("Invalid value {value!r}; expected {expected}.").format(value=value, expected=expected),
    )


def _to_float(field: str, value: object, expected: str) -> float:
    if isinstance(value, bool):
        raise _invalid(field, value, expected)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise _invalid(field, value, expected) from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise _invalid(field, value, expected)
    if not math.isfinite(number):
        raise _invalid(field, value, expected)
    return number


def _to_int(field: str, value: object, expected: str) -> int:
    if isinstance(value, bool):
        raise _invalid(field, value, expected)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 10)
        except ValueError:
            raise _invalid(field, value, expected) from None
    raise _invalid(field, value, expected)


def _parse_temperature(value: object) -> float:
    expected = _("a number >= 0 (0 means greedy decoding)")
    number = _to_float("temperature", value, expected)
    if number < 0:
        raise _invalid("temperature", value, expected)
    return number


def _parse_top_k(value: object) -> int:
    expected = _("an integer >= 0 (0 turns top-k off)")
    number = _to_int("top_k", value, expected)
    if number < 0:
        raise _invalid("top_k", value, expected)
    return number


def _parse_top_p(value: object) -> float:
    expected = _("a number greater than 0 and at most 1")
    number = _to_float("top_p", value, expected)
    if not 0 < number <= 1:
        raise _invalid("top_p", value, expected)
    return number


def _parse_max_new_tokens(value: object) -> int:
    expected = _("an integer >= 1")
    number = _to_int("max_new_tokens", value, expected)
    if number < 1:
        raise _invalid("max_new_tokens", value, expected)
    return number


def _parse_repetition_penalty(value: object) -> float:
    expected = _("a number greater than 0 (1 means no penalty)")
    number = _to_float("repetition_penalty", value, expected)
    if number <= 0:
        raise _invalid("repetition_penalty", value, expected)
    return number


def _parse_seed(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    expected = _("an integer from 0 to {max}, or empty for a random seed").format(max=MAX_SEED)
    number = _to_int("seed", value, expected)
    if not 0 <= number <= MAX_SEED:
        raise _invalid("seed", value, expected)
    return number


def _parse_system_prompt(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid("system_prompt", value, _("text"))
    return value


_PARSERS = {
    "temperature": _parse_temperature,
    "top_k": _parse_top_k,
    "top_p": _parse_top_p,
    "max_new_tokens": _parse_max_new_tokens,
    "repetition_penalty": _parse_repetition_penalty,
    "seed": _parse_seed,
    "system_prompt": _parse_system_prompt,
}
