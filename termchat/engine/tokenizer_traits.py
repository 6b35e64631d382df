"""Find out how a tokenizer treats spaces, newlines and special tokens.

Most causal LMs use a byte-level BPE or SentencePiece tokenizer that decodes
text back as it was. Some Chinese GPT-2 models (the uer/gpt2-chinese-* family,
for one) use BERT's WordPiece tokenizer instead, which:
- joins decoded tokens with spaces, so Chinese reads "今 天 天 气";
- drops newlines, so a turn marker that starts with "\\n" never comes back;
- lower-cases text and puts [CLS] before and [SEP] after the encoded text.

`detect_tokenizer_traits` tests these behaviours on short probe texts instead
of trusting a model id or tokenizer class name. Nothing here imports torch or
transformers: the tokenizer is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Two CJK ideographs. A tokenizer that puts a space between them when
# decoding their ids inserts spaces between all tokens.
_CJK_PROBE = "中文"
_NEWLINE_PROBE = "a\nb"
_SPECIAL_TOKENS_PROBE = "a"


@dataclass(frozen=True, slots=True)
class TokenizerTraits:
    """Changes a tokenizer makes to text on its way to token ids and back."""

    inserts_spaces: bool = False
    """Decoding puts a space between tokens, even between two CJK characters."""
    drops_newlines: bool = False
    """Encoding "\\n" and decoding again loses the newline."""
    leading_special_ids: tuple[int, ...] = ()
    """Ids that encoding with special tokens puts before the text, such as BOS or BERT's [CLS]."""
    trailing_special_ids: tuple[int, ...] = ()
    """Ids that encoding with special tokens appends after the text, such as BERT's [SEP]."""
    separator_id: int | None = None
    """The tokenizer's segment separator token ([SEP]), or None when it has none."""


def detect_tokenizer_traits(tokenizer: Any) -> TokenizerTraits:
    """Encode and decode probe texts with `tokenizer` and report what changed."""
    leading, trailing = _added_special_ids(tokenizer)
    return TokenizerTraits(
        inserts_spaces=_inserts_spaces(tokenizer),
        drops_newlines=_drops_newlines(tokenizer),
        leading_special_ids=leading,
        trailing_special_ids=trailing,
        separator_id=_separator_id(tokenizer),
    )


def _encode(tokenizer: Any, text: str, add_special_tokens: bool = False) -> list[int]:
    return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])


def _decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _inserts_spaces(tokenizer: Any) -> bool:
    ids = _encode(tokenizer, _CJK_PROBE)
    # A vocabulary without CJK characters encodes the probe as unknown tokens,
    # which decode to nothing, so a Latin letter and a comma are checked instead.
    unknown = getattr(tokenizer, "unk_token_id", None)
    if len(ids) < 2 or unknown in ids:
        return " " in _decode(tokenizer, _encode(tokenizer, "a,"))
    return " " in _decode(tokenizer, ids)


def _drops_newlines(tokenizer: Any) -> bool:
    return "\n" not in _decode(tokenizer, _encode(tokenizer, _NEWLINE_PROBE))


def _added_special_ids(tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return the ids that encoding with special tokens adds before and after the text."""
    plain = _encode(tokenizer, _SPECIAL_TOKENS_PROBE)
    special = _encode(tokenizer, _SPECIAL_TOKENS_PROBE, add_special_tokens=True)
    if not plain or len(special) <= len(plain):
        return (), ()
    for start in range(len(special) - len(plain) + 1):
        if special[start : start + len(plain)] == plain:
            return tuple(special[:start]), tuple(special[start + len(plain) :])
    return (), ()


def _separator_id(tokenizer: Any) -> int | None:
    value = getattr(tokenizer, "sep_token_id", None)
    return value if isinstance(value, int) else None


# Space removal -------------------------------------------------------------

# Characters written without spaces around them in Chinese and Japanese text:
# CJK ideographs (including the ranges BERT's tokenizer splits into single tokens), CJK
# symbols and punctuation, and fullwidth forms such as "，" and "：".
_CJK_CHARACTERS = (
    "\u3000-\u303f"  # CJK symbols and punctuation: "。", "、", "「"
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\uff00-\uffef"  # Halfwidth and fullwidth forms: "，", "：", "！"
    "\U00020000-\U0002a6df"  # Extension B
    "\U0002a700-\U0002ebef"  # Extensions C to F
    "\U0002f800-\U0002fa1f"  # CJK Compatibility Ideographs Supplement
)
# A space next to a CJK character, on either side.
_SPACE_BESIDE_CJK = re.compile(f"(?<=[{_CJK_CHARACTERS}]) (?=\\S)|(?<=\\S) (?=[{_CJK_CHARACTERS}])")
# A space before closing ASCII punctuation or after an opening bracket.
_SPACE_BESIDE_ASCII_PUNCTUATION = re.compile(r"(?<=\S) (?=[.,!?;:%)\]}])|(?<=[(\[{]) (?=\S)")
# Punctuation between two digits, as in "3 . 14" or "1 , 000".
_SPACED_PUNCTUATION_IN_NUMBER = re.compile(r"(?<=\d) ([.,:]) (?=\d)")


def remove_inserted_spaces(text: str) -> str:
    """Remove the spaces a WordPiece decoder puts between tokens where text has none.

    Spaces next to CJK characters and CJK punctuation go, and so do spaces
    before ASCII closing punctuation, after opening brackets and around a
    decimal point. Spaces between Latin words stay:
    "我 爱 python 和 ai 。" becomes "我爱python和ai。".
    """
    # NOTE: the decoder's spaces hide the original spacing, so a space the
    # text really had next to a CJK character ("使用 Python") is removed too,
    # and "don ' t" keeps its spaces.
    text = _SPACED_PUNCTUATION_IN_NUMBER.sub(r"\1", text)
    text = _SPACE_BESIDE_CJK.sub("", text)
    return _SPACE_BESIDE_ASCII_PUNCTUATION.sub("", text)
