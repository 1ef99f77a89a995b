"""Tell which script a word is written in, from its first character."""

from __future__ import annotations

LATIN = "latin"
CYRILLIC = "cyrillic"
ARABIC = "arabic"
HEBREW = "hebrew"
DEVANAGARI = "devanagari"
GREEK = "greek"
KANA = "kana"
HANGUL = "hangul"
OTHER = "other"

# (first, last, script): code point ranges, checked in order.
_RANGES = (
    ("\u0600", "\u06ff", ARABIC),
    ("\ufb50", "\ufefc", ARABIC),
    ("\u0400", "\u04ff", CYRILLIC),
    ("\u00c0", "\u024f", LATIN),
    ("\u0590", "\u05ff", HEBREW),
    ("\u0900", "\u097f", DEVANAGARI),
    ("\u0370", "\u03ff", GREEK),
    ("\u1f00", "\u1fff", GREEK),
    ("\u3040", "\u30ff", KANA),
    ("\uac00", "\ud7af", HANGUL),
)


def script_of(word: str) -> str:
    """Return the script of the word's first character (digits count as Latin).

    One of the module's constants; `OTHER` for an empty word or a script no
    stage treats apart yet.
    """
    if not word:
        return OTHER
    first = word[0]
    if first.isascii():
        return LATIN
    for low, high, script in _RANGES:
        if low <= first <= high:
            return script
    return OTHER
