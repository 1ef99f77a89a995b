"""Fold text for matching: case, digits, diacritics and Arabic letter variants.

`fold` works per character of the original text and keeps a map back to it,
so every match found in folded text has exact offsets in the original.
"""

from __future__ import annotations

import functools
import unicodedata

from services.pipeline.normalize import matching_form

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


def unmark(text: str) -> str:
    """Return the text without combining marks (harakat, accents), composed again."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)
