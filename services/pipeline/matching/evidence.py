"""Extract what a document says that a translation keeps, with positions.

Dates and numbers (`facts.py`), names as their `text.skeleton` keys (`s:`),
entity tag ids (`t:`), and `lexical`: the skeletons of the text's long
words in order of first occurrence.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from anyascii import anyascii

from services.pipeline.matching import facts
from services.pipeline.matching.lexicon import Lexicon
from services.pipeline.matching.minhash import UNSPACED
from services.pipeline.tag import Tag
from services.pipeline.text.fold import fold_digits, unmark
from services.pipeline.text.skeleton import skeleton

# Letters, and the vowel signs of Indic and Southeast Asian scripts, which
# are marks (not word characters) but belong inside a word.
_NAME_TOKEN = re.compile(
    r"(?:[^\W\d_]|[\u0900-\u0963\u0971-\u0dff\u0e31-\u0e4e\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff])+"
)
_SENTENCE_END = frozenset('.!?…:;"«»“”„()[]–—-•')
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]+")
_ARABIC_PROCLITICS = ("و", "ب", "ل", "ف", "ك")
# Words of at least this many letters, at most this many distinct skeletons.
LEXICAL_MIN_LETTERS = 5
LEXICAL_WORDS = 200
# Tag kinds whose ids come from a gazetteer and so read the same in every
# language; keywords, acronyms and guessed person ids do not.
ENTITY_KINDS = frozenset(
    {"country", "org", "organisation", "organization", "place", "city", "region", "location"}
)


@dataclass
class Evidence:
    """What a document says that a translation keeps, with positions."""

    positions: dict[str, float] = field(default_factory=dict)
    surfaces: dict[str, str] = field(default_factory=dict)
    name_counts: Counter[str] = field(default_factory=Counter)
    paragraph_starts: list[float] = field(default_factory=list)
    cased: bool = True
    lexical: list[str] = field(default_factory=list)

    def add(self, key: str, position: float) -> None:
        if key not in self.positions:
            self.positions[key] = round(position, 3)


@functools.lru_cache(maxsize=1 << 16)
def evidence_weight(key: str) -> float:
    """Return how much one shared evidence key says about two documents.

    Rarer kinds weigh more: a day of a month or a five-digit number more than
    a year; a long name skeleton more than a short one.
    """
    kind, _, value = key.partition(":")
    if kind == "n":
        return _number_weight(value)
    if kind == "s":
        return 1.0 if len(value) < 4 else 2.0
    if kind == "t":
        tag_kind = value.split(":", 1)[0]
        if tag_kind == "country":
            return 1.0
        return 3.0 if tag_kind.startswith("org") else 2.0
    return _KIND_WEIGHTS.get(kind, 1.0)


# A day of a month (d:) and a year-month (m:), whatever their value.
_KIND_WEIGHTS = {"d": 3.0, "m": 1.5}


def _number_weight(value: str) -> float:
    if "." in value:
        return 2.5
    number = int(value) if value.isdigit() else 0
    if 1900 <= number <= 2100 or number < 100:
        return 1.0
    return 2.0 if number < 1000 else 3.0


@dataclass
class _Words:
    """The words of a text so far, by what they may be."""

    cased: int = 0
    caseless: int = 0
    capitalized: Counter[str] = field(default_factory=Counter)
    lowercase: set[str] = field(default_factory=set)
    caseless_forms: Counter[str] = field(default_factory=Counter)
    lexical: dict[str, None] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)

    def see(self, word: str, position: float, *, initial: bool) -> None:
        """Count one word; `initial`: it starts a sentence (or the title)."""
        _add_lexical(word, self.lexical)
        if word.lower() != word.upper():
            self.cased += 1
            if word[0].islower():
                self.lowercase.add(word.casefold())
            elif not initial or (len(word) > 1 and word.isupper()):
                self.capitalized[word] += 1
                self.first_seen.setdefault(word, position)
            return
        self.caseless += 1
        for variant in _caseless_variants(word):
            self.caseless_forms[variant] += 1
            self.first_seen.setdefault(variant, position)


def extract_evidence(
    paragraphs: list[str], tags: Sequence[Tag], lexicon: Lexicon, *, titled: bool = True
) -> Evidence:
    """Return what the paragraphs (the title first) say that a translation keeps.

    `titled`: the first paragraph is a title, whose words are capitalised
    whether or not they are names; a body's first paragraph is prose.
    """
    evidence = Evidence()
    folded = [fold_digits(p) for p in paragraphs]
    total = max(1, sum(len(p) + 2 for p in folded))
    offset = 0
    words = _Words()
    for index, (raw, text) in enumerate(zip(paragraphs, folded, strict=True)):
        evidence.paragraph_starts.append(round(offset / total, 3))
        scale = max(1, len(text))
        base = offset / total
        span = len(text) / total

        def at(char: int, base: float = base, span: float = span, scale: int = scale) -> float:
            return base + span * char / scale

        facts.extract_facts(text, lexicon, evidence, at)
        unmarked = unmark(raw)
        for word, start in _words_of(unmarked):
            # Only a capitalised word's place in its sentence matters.
            initial = (
                word.lower() != word.upper()
                and not word[0].islower()
                and ((index == 0 and titled) or _starts_sentence(unmarked, start))
            )
            words.see(word, at(start * scale // max(1, len(unmarked))), initial=initial)
        offset += len(text) + 2

    evidence.cased = words.cased >= words.caseless
    evidence.lexical = list(words.lexical)[:LEXICAL_WORDS]
    _add_names(evidence, words)
    for tag_ in tags:
        if tag_.kind in ENTITY_KINDS and ":" in tag_.id:
            evidence.add("t:" + tag_.id, -1.0)
    return evidence


def _words_of(text: str) -> Iterator[tuple[str, int]]:
    """Yield the text's words with their offsets.

    A run of Han, kana or Thai is a phrase, not a word; only its katakana
    runs (foreign names, loanwords) transliterate.
    """
    for match in _NAME_TOKEN.finditer(text):
        if UNSPACED.search(match.group()):
            for m in _KATAKANA.finditer(match.group()):
                yield m.group(), match.start() + m.start()
        else:
            yield match.group(), match.start()


def _add_names(evidence: Evidence, words: _Words) -> None:
    """Add the name keys: capitalised words (cased scripts), else every word."""
    names: Counter[str] = Counter()
    surfaces: dict[str, str] = {}
    if evidence.cased:
        found = [
            (w, c) for w, c in words.capitalized.items() if w.casefold() not in words.lowercase
        ]
    else:
        found = list(words.caseless_forms.items())
    for word, count in found:
        key = skeleton(word)
        if len(key) >= 3:
            names[key] += count
            if evidence.cased:
                surfaces.setdefault(key, word)
            evidence.add("s:" + key, words.first_seen[word])
    evidence.name_counts = names
    evidence.surfaces = {k: surfaces[k] for k in sorted(surfaces)}


def _add_lexical(word: str, lexical: dict[str, None]) -> None:
    if len(lexical) >= LEXICAL_WORDS:
        return
    key = _lexical_key(word)
    if key:
        lexical.setdefault(key, None)


@functools.lru_cache(maxsize=65536)
def _lexical_key(word: str) -> str:
    if _ARABIC.match(word):
        *_, word = _caseless_variants(word)
    # Letters counted in Latin: a Hangul syllable or an unvoweled Arabic word
    # is short in its script only.
    if len(anyascii(word)) < LEXICAL_MIN_LETTERS:
        return ""
    key = skeleton(word)
    return key if len(key) >= 3 else ""


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    if not before:
        return True
    # A hyphen between letters joins a compound name ('Ednan-Laperouse').
    if len(before) == start and before[-1] == "-" and before[-2:-1].isalpha():
        return False
    return before[-1] in _SENTENCE_END


def _caseless_variants(word: str) -> Iterator[str]:
    yield word
    if _ARABIC.match(word) and len(word) > 4:
        if word.startswith("ال"):
            yield word[2:]
        elif word.startswith(_ARABIC_PROCLITICS):
            yield word[1:]
            if word[1:].startswith("ال"):
                yield word[3:]
