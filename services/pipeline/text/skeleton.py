"""THE name key: where any script's word becomes a Latin consonant skeleton.

A person's tag id (`person:<key>`) and a document's match keys (`s:<key>`,
`w:<key>`, `nm:`, `nn:`) are built from `skeleton`, so a name gets one key in
tags and in matching: 'Tokayev', 'Токаев', 'Тоқаев' and 'توكاييف' all give 'tkb'.

How a word becomes its skeleton:

1. A repair for the word's script, from `SCRIPT_REPAIRS` (first character's
   script): Russian case endings that add a consonant, Hebrew vav (a vowel
   letter), Devanagari anusvara (n before a consonant), Greek digraphs for
   b, d, g and j (μπ, ντ, γκ, τζ), the kana moraic n before a labial (m) and
   small tsu, Hangul final ㄱ and ㄷ (k, t). To add a script (Han, another
   Indic script or abjad), write one function `str -> str` here and add it
   to the table under `scripts.script_of`'s name.
2. Transliteration with anyascii, lower-cased, letters a-z only.
3. Digraphs collapse (`DIGRAPHS`), letters that scripts and transliterations
   confuse merge (`LETTERS`: b, p, f and v; c, h, k and q; s and z), vowels
   and the weak letters w and y drop, doubled letters merge; then l is
   written r (one sound in Japanese and Korean).
4. Cut at `KEY_LETTERS` (4): inflection and particles mostly fall off.

Lossy by design: distinct names can collide. Changing a table changes stored
match keys (`fingerprint.DATA_VERSION`) and person tag ids
(`tag.TAXONOMY_VERSION`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from anyascii import anyascii

from services.pipeline.text.fold import unmark
from services.pipeline.text.scripts import (
    ARABIC,
    CYRILLIC,
    DEVANAGARI,
    GREEK,
    HANGUL,
    HEBREW,
    KANA,
    script_of,
)

KEY_LETTERS = 4

DIGRAPHS = (
    ("dzh", "j"), ("dj", "j"), ("kh", "k"), ("sh", "s"), ("ch", "k"), ("zh", "j"),
    ("ph", "b"), ("th", "t"), ("dh", "d"), ("gh", "g"), ("ts", "s"),
)  # fmt: skip
LETTERS = str.maketrans(
    {
        "q": "k", "c": "k", "x": "ks", "z": "s", "f": "b", "v": "b", "p": "b",
        "h": "k", "w": None, "y": None,
        "a": None, "e": None, "i": None, "o": None, "u": None,
    }
)  # fmt: skip
_NON_LETTER = re.compile(r"[^a-z]")
_REPEAT = re.compile(r"(.)\1+")

# Case endings that add a consonant ('Катаром', 'Хабаровского'); not -ов/-ев,
# which end surnames in every case. A stem keeps four letters, so names
# like 'Касым' keep theirs.
_CYRILLIC_ENDINGS = (
    "ого", "его", "ому", "ему", "ыми", "ими", "ами", "ями",
    "ом", "ем", "ам", "ям", "ах", "ях", "ых", "их", "ым", "им",
)  # fmt: skip


def _cyrillic(word: str) -> str:
    for ending in _CYRILLIC_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def _hebrew(word: str) -> str:
    # Vav is mostly a vowel letter (and the prefix 'and'), not /v/.
    return word.replace("\u05d5", "")


def _devanagari(word: str) -> str:
    # Anusvara is a nasal sound, written 'm' by anyascii; before t, d or k it
    # is an 'n' (इंटरनेट internet).
    return word.replace("\u0902", "\u0928")


# Greek writes b, d and g of foreign names as digraphs (Μπους Bush,
# Ντάλας Dallas, Γκέιτς Gates) and j as τζ (Τζόνσον Johnson); inside a
# word μπ and ντ keep their nasal (Λάμπρος Lambros).
_GREEK_INITIAL = (("μπ", "b"), ("ντ", "d"), ("γκ", "g"))
_GREEK_ANYWHERE = (("τζ", "j"), ("γκ", "ng"), ("γγ", "ng"))


def _greek(word: str) -> str:
    for digraph, latin in _GREEK_INITIAL:
        if word.startswith(digraph):
            word = latin + word[len(digraph) :]
    for digraph, latin in _GREEK_ANYWHERE:
        word = word.replace(digraph, latin)
    return word


# Kana: the moraic n is an m before b, p and m (トランプ Trump); the small tsu
# doubles the next consonant and is no letter of its own.
_KANA_LABIAL_N = re.compile(
    "[ンん](?=[バパビピブプベペボポマミムメモばぱびぴぶぷべぺぼぽまみむめも])"
)
_KANA_SMALL_TSU = re.compile("[ッっ]")


def _kana(word: str) -> str:
    return _KANA_SMALL_TSU.sub("", _KANA_LABIAL_N.sub("m", word))


# Hangul: a syllable's final ㄱ or ㄷ is heard as k or t (잭슨 Jackson), which
# anyascii writes g and d as it does for the initial consonant.
_HANGUL_BASE = 0xAC00
_HANGUL_FINALS = {1: "k", 7: "t"}


def _hangul(word: str) -> str:
    out = []
    for char in word:
        code = ord(char) - _HANGUL_BASE
        final = _HANGUL_FINALS.get(code % 28) if 0 <= code < 11172 else None
        out.append(char if final is None else chr(ord(char) - code % 28) + final)
    return "".join(out)


SCRIPT_REPAIRS: dict[str, Callable[[str], str]] = {
    CYRILLIC: _cyrillic,
    HEBREW: _hebrew,
    DEVANAGARI: _devanagari,
    GREEK: _greek,
    KANA: _kana,
    HANGUL: _hangul,
}


@functools.lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """Return the Latin consonant skeleton of one word, at most `KEY_LETTERS` letters.

    Deterministic; empty for a word with no consonant.
    """
    lower = word.lower()
    repair = SCRIPT_REPAIRS.get(script_of(lower))
    if repair is not None:
        lower = repair(lower)
    # Lower-case after transliterating: anyascii writes Hangul and Han
    # syllables capitalised ('PuTin').
    text = _NON_LETTER.sub("", anyascii(lower).lower())
    for digraph, letter in DIGRAPHS:
        text = text.replace(digraph, letter)
    # l becomes r after doubled letters merge: 'Nasrallah' keeps 'nsrr', as
    # 'Насралла' does, where merging first would shorten both to 'nsr'.
    return _REPEAT.sub(r"\1", text.translate(LETTERS)).replace("l", "r")[:KEY_LETTERS]


# Articles written as a word of their own ("Al-Shuaibi", "el Sisi").
_NAME_ARTICLES = frozenset({"al", "el", "ul", "ad", "as", "ash", "ar", "an", "az"})
_NAME_SEPARATOR = re.compile(r"[\s\-\u2010\u2011]+")


def name_key(name: str) -> str:
    """Return a person's language-independent key: the skeletons of the name's words.

    Words are split at spaces and hyphens; the Arabic article ال and Latin
    articles ("al", "el") are dropped; each word gives `skeleton(word)`,
    joined by "-". "Kairat Lama Sharif" and "خيرات لاما شريف" both give
    "krt-rm-srb".
    """
    keys = []
    for raw in _NAME_SEPARATOR.split(name.strip()):
        word = unmark(raw)
        if script_of(word) == ARABIC and word.startswith("ال") and len(word) > 3:
            word = word[2:]
        if not word or word == "ال" or anyascii(word).lower() in _NAME_ARTICLES:
            continue
        key = skeleton(word)
        if key:
            keys.append(key)
    return "-".join(keys)
