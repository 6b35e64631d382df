"""Translation of user-facing strings through gettext.

Call `_()` at the moment a string is shown, not at import time, so a language
chosen after import (by `--lang` or the config file) still applies. Strings
that must live in module-level constants are marked with `N_()` and passed
through `_()` where they are displayed.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "termchat"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "zh_CN")

_translation: gettext.NullTranslations = gettext.NullTranslations()


def normalize_language(language: str) -> str:
    """Map `zh_CN.UTF-8`, `zh-CN` or `zh-Hans` to a catalogue name such as `zh_CN`."""
    code = language.split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    lowered = code.lower()
    if lowered in {"zh", "zh_cn", "zh_hans", "zh_sg", "zh_hans_cn"}:
        return "zh_CN"
    if lowered.startswith("en") or lowered in {"c", "posix", ""}:
        return "en"
    return code


def language_from_environment() -> str | None:
    """Return the language the locale variables ask for, as gettext reads them."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return normalize_language(value.split(":", 1)[0])
    return None


def set_language(language: str | None) -> str:
    """Install the catalogue for `language`, or for the locale when it is None.

    Returns the language in use. A language without a catalogue falls back
    to English, the language of the source strings.
    """
    global _translation
    chosen = normalize_language(language) if language else (language_from_environment() or "en")
    if chosen == "en":
        _translation = gettext.NullTranslations()
        return "en"
    try:
        _translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[chosen])
    except OSError:
        _translation = gettext.NullTranslations()
        return "en"
    return chosen


def _(message: str) -> str:
    """Return `message` translated into the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural form for `count`, translated."""
    return _translation.ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it yet."""
    return message
