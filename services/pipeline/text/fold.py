"""Fold text for matching: case, digits, diacritics and Arabic letter variants.

`matching_form` is the fold of whole texts that deduplication and storage
compare. `fold` works per character of the original text and keeps a map back to it,
so every match found in folded text has exact offsets in the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from services.pipeline.text.repair import collapse_spaces

# Combining diacritics of Latin, Greek, Cyrillic, Hebrew and Arabic (harakat,
# hamza and madda marks, Quranic signs) and the tatweel. Indic and Southeast
# Asian vowel signs are not diacritics and stay.
_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u0640\u064b-\u065f\u0670"
    "\u06d6-\u06ed\u08d3-\u08ff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
_FOREIGN_DIGIT = re.compile(r"[^\D0-9]")
_LETTER_FOLDS = (("\u06cc", "\u064a"), ("\u06a9", "\u0643"), ("\u0649", "\u064a"))


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def matching_form(text: str) -> str:
    """Return the form used for matching, never for display.

    Case-folded; compatibility forms unfolded; digits of every script as ASCII;
    Latin, Greek, Cyrillic, Hebrew and Arabic diacritics and the Arabic tatweel
    removed; Persian yeh and kaf and alef maksura as Arabic yeh and kaf; runs of
    spaces as one space, lines stripped, line breaks kept. Idempotent, and
    matching_form(n.text) == n.matching_text for every normalized n.
    """
    folded = unicodedata.normalize("NFKD", text).casefold()
    folded = _MARKS.sub("", unicodedata.normalize("NFKD", folded))
    folded = _FOREIGN_DIGIT.sub(_ascii_digit, folded)
    for letter, common in _LETTER_FOLDS:
        folded = folded.replace(letter, common)
    return collapse_spaces(unicodedata.normalize("NFC", folded)).strip(" ")


ARABIC_LETTERS = str.maketrans(
    {"ى": "ي", "ة": "ه", "ی": "ي", "ک": "ك", "ۀ": "ه", "ٱ": "ا", "ـ": None}
)

# The zero of each script's decimal digits that `matching_form` leaves alone.
_DIGIT_ZEROS = (
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66,
    0xCE6, 0xD66, 0xE50, 0xED0, 0xF20, 0x1040, 0x17E0, 0x1810, 0xFF10,
)  # fmt: skip
_DIGITS = {zero + i: str(i) for zero in _DIGIT_ZEROS for i in range(10)} | {
    0x66B: ".",
    0x66C: ",",
    0x66A: "%",  # Arabic decimal and thousands separators, percent
}


@functools.lru_cache(maxsize=8192)
def fold_char(char: str) -> str:
    """Return one character folded (a space for any white space); may be empty or longer."""
    if char.isspace():
        return " "
    return matching_form(char).translate(ARABIC_LETTERS)


def fold(text: str) -> tuple[str, list[int] | None]:
    """Return the folded text and, when lengths changed, each folded character's origin.

    None as the map means folded offsets are the original's.
    """
    if text.isascii():
        return text.lower(), None
    parts = list(map(fold_char, text))
    folded = "".join(parts)
    if len(folded) == len(text) and "" not in parts:
        return folded, None  # one character for one: offsets carry over
    origin: list[int] = []
    for index, part in enumerate(parts):
        origin.extend([index] * len(part))
    return folded, origin


def fold_digits(text: str) -> str:
    """Return the matching form with the digits of every script as ASCII digits."""
    return matching_form(text).translate(_DIGITS)


# Kana voicing marks are combining characters, but they make ハ a b or p
# (パスツール Pasteur), not an accent.
_KANA_VOICING = frozenset("\u3099\u309a")


def unmark(text: str) -> str:
    """Return the text without combining marks (harakat, accents), composed again.

    Kana keep their voicing marks.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c) or c in _KANA_VOICING)
    return unicodedata.normalize("NFC", kept)
