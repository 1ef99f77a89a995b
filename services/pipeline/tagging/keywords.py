"""Pick a document's key phrases: words of its own language, not identifiers."""

from __future__ import annotations

from typing import NamedTuple

from services.pipeline.tagging.tokens import JOINER, Tokens
from services.pipeline.text.fold import fold

MAX_KEYWORDS = 8

_Phrase = tuple[str, ...]


class Keyword(NamedTuple):
    suffix: str  # the tag id after "keyword:"
    label: str
    score: float
    spans: list[tuple[int, int]]


def find_keywords(
    doc: Tokens, title: Tokens | None, stopwords: frozenset[str], names: set[int]
) -> list[Keyword]:
    """Return up to MAX_KEYWORDS key phrases, best first.

    Candidates are 1-3 word runs inside a clause (no punctuation between the
    words) with no stopword, number, word shorter than 3 letters or word of a
    known name (`names`: those are tags already), keyed by their stemmed
    forms. score = occurrences x words, +2 x words when the phrase is in the
    title; a phrase must occur twice or be in the title. A phrase contained
    in a chosen one, or containing it, is skipped. Linear in the number of
    tokens. Without a stopword list for the language, only single words of 5+
    letters are candidates.
    """
    counts = _candidates(doc, stopwords, names)
    in_title = _title_phrases(title)
    scored = []
    for key, spans in counts.items():
        boost = 2 if key in in_title else 0
        if len(spans) >= 2 or boost:
            scored.append(((len(spans) + boost) * len(key), key, spans))
    scored.sort(key=lambda s: (-s[0], s[1]))
    chosen: list[Keyword] = []
    picked: list[_Phrase] = []
    top = scored[0][0] if scored else 1
    for score, key, spans in scored:
        if any(_contains(key, other) or _contains(other, key) for other in picked):
            continue
        picked.append(key)
        start, end = spans[0]
        label = doc.text[start:end]
        chosen.append(
            Keyword("-".join(fold(label)[0].split()), label, round(score / top, 3), spans)
        )
        if len(chosen) == MAX_KEYWORDS:
            break
    return chosen


def _candidates(
    doc: Tokens, stopwords: frozenset[str], names: set[int]
) -> dict[_Phrase, list[tuple[int, int]]]:
    """Return each candidate phrase (by stemmed forms) with its spans."""
    shortest = 3 if stopwords else 5
    keys = [v[0] for v in doc.variants]
    usable = [
        len(form) >= shortest
        and form not in stopwords
        and keys[i] not in stopwords
        and not form.isdigit()
        and i not in names
        for i, form in enumerate(doc.forms)
    ]
    joined = [i > 0 and JOINER.fullmatch(doc.gap(i)) is not None for i in range(len(doc))]
    counts: dict[_Phrase, list[tuple[int, int]]] = {}
    for i in range(len(doc)):
        for size in (1, 2, 3) if stopwords else (1,):
            j = i + size
            if j > len(doc) or not usable[j - 1] or (size > 1 and not joined[j - 1]):
                break
            counts.setdefault(tuple(keys[i:j]), []).append(doc.span(i, j))
    return counts


def _title_phrases(title: Tokens | None) -> set[_Phrase]:
    if title is None:
        return set()
    keys = [v[0] for v in title.variants]
    return {tuple(keys[k : k + size]) for size in (1, 2, 3) for k in range(len(keys) - size + 1)}


def _contains(outer: _Phrase, inner: _Phrase) -> bool:
    size = len(inner)
    return any(outer[k : k + size] == inner for k in range(len(outer) - size + 1))
