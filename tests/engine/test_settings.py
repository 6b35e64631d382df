"""GenerationSettings validation: each field parses form strings or rejects them."""

from __future__ import annotations

import pytest

from termchat.engine import GenerationSettings, SettingsError

VALID = [
    ("temperature", 0, 0.0),
    ("temperature", "0.7", 0.7),
    ("temperature", " 1.5 ", 1.5),
    ("temperature", 2, 2.0),
    ("top_k", 0, 0),
    ("top_k", "40", 40),
    ("top_k", 40.0, 40),
    ("top_p", 1, 1.0),
    ("top_p", "0.9", 0.9),
    ("top_p", 1e-6, 1e-6),
    ("max_new_tokens", 1, 1),
    ("max_new_tokens", "512", 512),
    ("repetition_penalty", "1.0", 1.0),
    ("repetition_penalty", 0.5, 0.5),
    ("seed", None, None),
    ("seed", "", None),
    ("seed", "42", 42),
    ("seed", 0, 0),
    ("seed", 2**32 - 1, 2**32 - 1),
    ("system_prompt", None, ""),
    ("system_prompt", "Be brief.", "Be brief."),
]

INVALID = [
    ("temperature", -0.1),
    ("temperature", "abc"),
    ("temperature", "nan"),
    ("temperature", float("inf")),
    ("temperature", True),
    ("temperature", None),
    ("top_k", -1),
    ("top_k", "9.2"),
    ("top_k", 9.2),
    ("top_k", "abc"),
    ("top_k", False),
    ("top_p", 0),
    ("top_p", "0"),
    ("top_p", 1.01),
    ("top_p", -0.5),
    ("top_p", "x"),
    ("max_new_tokens", 0),
    ("max_new_tokens", -5),
    ("max_new_tokens", "1.5"),
    ("max_new_tokens", "many"),
    ("repetition_penalty", 0),
    ("repetition_penalty", -1),
    ("repetition_penalty", "zero"),
    ("seed", -1),
    ("seed", 2**32),
    ("seed", "1.5"),
    ("seed", "abc"),
    ("system_prompt", 12),
]


@pytest.mark.parametrize(("field", "value", "expected"), VALID)
def test_settings_accept_valid_value(field, value, expected):
    settings = GenerationSettings(**{field: value})

    assert getattr(settings, field) == expected
    assert type(getattr(settings, field)) is type(expected)


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_settings_reject_invalid_value(field, value):
    with pytest.raises(SettingsError) as caught:
        GenerationSettings(**{field: value})

    error = caught.value
    assert error.field == field
    assert error.value is value
    message = str(error)
    assert field in message
    assert repr(value) in message
    assert "\n" not in message


def test_settings_error_names_allowed_range():
    with pytest.raises(SettingsError) as caught:
        GenerationSettings(top_p="1.5")

    assert "at most 1" in str(caught.value)


def test_settings_from_mapping_parses_strings():
    settings = GenerationSettings.from_mapping({"temperature": "0", "top_k": "5", "seed": "7"})

    assert settings.temperature == 0.0
    assert settings.top_k == 5
    assert settings.seed == 7


def test_settings_from_mapping_rejects_unknown_key():
    with pytest.raises(SettingsError) as caught:
        GenerationSettings.from_mapping({"temprature": 1})

    assert caught.value.field == "temprature"
    assert "temperature" in str(caught.value)


def test_settings_replace_validates():
    with pytest.raises(SettingsError):
        GenerationSettings().replace(max_new_tokens=0)


def test_settings_round_trip_through_dict():
    settings = GenerationSettings(temperature=0.2, seed=3, system_prompt="Hi")

    assert GenerationSettings.from_mapping(settings.to_dict()) == settings
