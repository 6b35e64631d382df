"""The zh_CN catalogue covers every user-facing string and matches its compiled file."""

from __future__ import annotations

import ast
import gettext
import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import termchat
from termchat import i18n

PACKAGE_DIR = Path(termchat.__file__).parent
PO_FILE = i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "termchat.po"
MO_FILE = PO_FILE.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# A call such as _('Created') with one string literal. Python 3.11 tokenizes an
# f-string as one string, so Babel does not see such a call inside an f-string.
MARKED_LITERAL = re.compile(r"""(?<![\w.])_\(\s*(['"])((?:\\.|(?!\1).)*)\1\s*\)""")


def _source_messages() -> set[str]:
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        PACKAGE_DIR, method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _marked_literals() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for match in MARKED_LITERAL.finditer(path.read_text(encoding="utf-8")):
            quote, body = match.group(1), match.group(2)
            found.add(ast.literal_eval(quote + body + quote))
    return found


def _catalogue():
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="zh_CN")


def _fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


def test_catalogue_translates_every_message():
    catalogue = _catalogue()
    missing = sorted(
        message
        for message in _source_messages()
        if message not in catalogue or not catalogue[message].string or catalogue[message].fuzzy
    )

    assert missing == []


def test_extractor_finds_every_marked_string():
    hidden = sorted(_marked_literals() - _source_messages())

    assert hidden == [], "move these _() calls out of f-strings so that pybabel extracts them"


def test_translations_keep_format_fields():
    mismatched = []
    for message in _catalogue():
        if not message.id or not message.string:
            continue
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        for translation in translations:
            if _fields(source) != _fields(translation):
                mismatched.append((source, translation))

    assert mismatched == []


def test_compiled_catalogue_matches_po():
    buffer = io.BytesIO()
    write_mo(buffer, _catalogue())
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)

    with MO_FILE.open("rb") as handle:
        shipped = gettext.GNUTranslations(handle)

    assert shipped._catalog == expected._catalog  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", ["zh_CN", "zh_CN.UTF-8", "zh-Hans"])
def test_set_language_installs_chinese(language):
    try:
        assert i18n.set_language(language) == "zh_CN"
        translated = i18n._("Unknown setting '{name}'. Known settings: {known}.")
        assert re.search(r"[\u4e00-\u9fff]", translated)
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_chinese_plural_uses_one_form(count):
    try:
        i18n.set_language("zh_CN")
        text = i18n.ngettext("{count} message", "{count} messages", count).format(count=count)
    finally:
        i18n.set_language("en")

    assert text == f"{count} 条消息"
