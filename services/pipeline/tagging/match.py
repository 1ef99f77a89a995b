"""Find gazetteer terms in a text: the longest match at each token, left to right."""

from __future__ import annotations

from typing import NamedTuple

from services.pipeline.tagging.gazetteer import Entry, Gazetteer, Node
from services.pipeline.tagging.tokens import Tokens


class Match(NamedTuple):
    start: int  # token index
    end: int  # token index, exclusive
    entries: tuple[Entry, ...]


def _accepts(doc: Tokens, i: int, entry: Entry, languages: frozenset[str] | None) -> bool:
    if languages is not None and entry.lang not in languages and entry.lang != "*":
        return False
    return not entry.needs_capital or doc.capitalized(i)


def _longest(
    doc: Tokens, i: int, root: Node, languages: frozenset[str] | None, *, plain: bool
) -> Match | None:
    best: Match | None = None
    nodes = [root]
    j = i
    variants = doc.plain_variants if plain else doc.variants
    size = len(doc.forms)
    while nodes and j < size:
        nodes = [n.children[v] for n in nodes for v in variants[j] if v in n.children]
        j += 1
        found = tuple(e for n in nodes for e in n.entries if _accepts(doc, i, e, languages))
        if found:
            best = Match(i, j, found)
    return best


def scan(
    doc: Tokens, root: Node, languages: frozenset[str] | None, *, plain: bool = False
) -> list[Match]:
    """Return the longest non-overlapping matches, left to right."""
    matches: list[Match] = []
    variants = doc.plain_variants if plain else doc.variants
    first = root.children
    i = 0
    size = len(doc.forms)
    while i < size:
        if not any(v in first for v in variants[i]):
            i += 1
            continue
        match = _longest(doc, i, root, languages, plain=plain)
        if match is None:
            i += 1
        else:
            matches.append(match)
            i = match.end
    return matches


def languages_for(gazetteer: Gazetteer, language: str) -> frozenset[str] | None:
    """Return the term languages to match for a document's language (None: all)."""
    if language in gazetteer.languages:
        return frozenset({language, "en"})
    return None


def find_entities(
    doc: Tokens, gazetteer: Gazetteer, languages: frozenset[str] | None
) -> list[Match]:
    """Return the countries, organisations and people named in the text, in order."""
    matches = scan(doc, gazetteer.entities, languages)
    taken = {i for m in matches for i in range(m.start, m.end)}
    for i in range(len(doc)):
        if i not in taken:
            entries = gazetteer.acronyms.get(doc.surface(i))
            if entries:
                matches.append(Match(i, i + 1, entries))
    return sorted(matches)
