"""Tag a document with language-independent identifiers: the tagging stage's entry point.

Tags are identifiers, not words of one language: an Arabic and an English
article about Kazakhstan carry the same `country:KZ`. Kinds:

- `lang:<iso639-1>`: the document's language.
- `country:<ISO 3166-1 alpha-2>`: countries named in the text, by name,
  official or short name (pycountry, translated through its gettext locales
  for every language in gazetteer/manifest.toml) or by demonym
  (gazetteer/countries.toml). Cities count only with include_cities=True.
- `org:<id>`: organisations from gazetteer/organisations.toml, by name in
  en/ar/ru or by acronym (acronyms match only as written, in capitals).
- `acronym:<XYZ>`: an all-caps word of 3-8 letters that no gazetteer knows.
  A separate kind, not `org:`, so a consumer filtering organisations sees
  only known ones; score 0.3.
- `person:<key>`: people, found by a rule-based recognizer
  (`tagging/people.py`) or by gazetteer/people.toml; the id is
  `person_id(name)`, the name key of `text/skeleton.py` that matching uses too.
- `topic:<id>`: gazetteer/topics.toml; tagged only when the body sentences
  with a term hit plus twice the title hits add up to 2 or more.
- `keyword:<phrase>`: at most 8 key phrases (`tagging/keywords.py`); these
  are words of the document's language, not identifiers.

Where each part lives: `tagging/tokens.py` (a text as folded, stemmed
tokens with offsets; the fold and stems are `text/`'s), `tagging/gazetteer.py`
(loading and compiling the data), `tagging/match.py` (longest-match lookup),
`tagging/people.py` and `tagging/keywords.py`. This module builds the tags.
"""

from __future__ import annotations

import gettext
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import pycountry
from anyascii import anyascii

from services.pipeline.normalize import Normalized
from services.pipeline.tagging.gazetteer import Gazetteer, load_gazetteer
from services.pipeline.tagging.keywords import find_keywords
from services.pipeline.tagging.match import find_entities, languages_for, scan
from services.pipeline.tagging.people import Person, find_people
from services.pipeline.tagging.tokens import Tokens
from services.pipeline.text.skeleton import name_key as person_id

__all__ = ["TAXONOMY_VERSION", "Gazetteer", "Tag", "load_gazetteer", "person_id", "tag"]

TAXONOMY_VERSION = "2025.4"

MAX_OFFSETS = 20
TOPIC_MIN_WEIGHT = 2
ACRONYM_SCORE = 0.3


@dataclass(frozen=True)
class Tag:
    """One tag: an identifier like `country:KZ`, its labels and where it was found.

    `offsets` are (start, end) pairs into Normalized.text; `version` is the
    gazetteer version the tag was made with.
    """

    id: str
    label: str
    score: float = 1.0
    label_local: str | None = None
    evidence: str | None = None
    offsets: tuple[tuple[int, int], ...] = field(default=())
    version: str = TAXONOMY_VERSION

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """Return the tag as stored and served (faster than `dataclasses.asdict`)."""
        return {
            "id": self.id,
            "label": self.label,
            "score": self.score,
            "label_local": self.label_local,
            "evidence": self.evidence,
            "offsets": [list(pair) for pair in self.offsets],
            "version": self.version,
        }


class _Hits:
    """Occurrences of one tag id in the body and the title."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []
        self.title = 0
        self.surface: str | None = None
        self.score = 1.0


def _collect(
    hits: dict[str, _Hits], key: str, doc: Tokens, i: int, j: int, *, in_title: bool
) -> None:
    entry = hits.setdefault(key, _Hits())
    if entry.surface is None:
        entry.surface = doc.text[doc.starts[i] : doc.ends[j - 1]]
    if in_title:
        entry.title += 1
    else:
        entry.spans.append(doc.span(i, j))


def _entity_hits(
    doc: Tokens,
    in_title: bool,
    gazetteer: Gazetteer,
    languages: frozenset[str] | None,
    hits: dict[str, _Hits],
) -> set[int]:
    """Add the document's countries, orgs, people and acronyms to hits.

    Return the token indices that belong to a known name.
    """
    entities = find_entities(doc, gazetteer, languages)
    for match in entities:
        for key in dict.fromkeys(e.id for e in match.entries if e.kind != "block"):
            _collect(hits, key, doc, match.start, match.end, in_title=in_title)
    taken = {i for m in entities for i in range(m.start, m.end)}
    cues = scan(doc, gazetteer.cues, languages, plain=True) if not in_title else []
    people = find_people(doc, gazetteer, entities, cues)
    taken |= _person_hits(doc, people, hits, in_title=in_title)
    _acronym_hits(doc, gazetteer, taken, hits, in_title=in_title)
    return taken


def _person_hits(
    doc: Tokens, people: list[Person], hits: dict[str, _Hits], *, in_title: bool
) -> set[int]:
    """Add the people found to hits; return the token indices of their names.

    A single-word mention ("Ambassador Alimbayev") takes the id of a full
    name with the same last word, else scores 0.5.
    """
    taken: set[int] = set()
    full: dict[str, str] = {}
    for person in sorted(people, key=lambda p: (p.partial, p.start)):
        name = doc.text[doc.starts[person.start] : doc.ends[person.end - 1]]
        pid = person_id(name)
        if not pid:
            continue
        last = person_id(doc.surface(person.end - 1))
        if person.partial:
            pid = full.get(last, pid)
        else:
            full.setdefault(last, pid)
        key = f"person:{pid}"
        if key in hits and doc.span(person.start, person.end) in hits[key].spans:
            continue
        _collect(hits, key, doc, person.start, person.end, in_title=in_title)
        if person.partial and pid not in full.values():
            hits[key].score = 0.5
        taken.update(range(person.start, person.end))
    return taken


def _acronym_hits(
    doc: Tokens, gazetteer: Gazetteer, taken: set[int], hits: dict[str, _Hits], *, in_title: bool
) -> None:
    """Add all-caps words no gazetteer knows, unless the text around them shouts too."""
    for i in range(len(doc)):
        surface = doc.surface(i)
        if i in taken or not _unknown_acronym(surface, gazetteer):
            continue
        shouting = any(
            0 <= k < len(doc) and len(doc.forms[k]) > 1 and doc.surface(k).isupper()
            for k in (i - 1, i + 1)
        )
        if not shouting:
            key = f"acronym:{surface}"
            _collect(hits, key, doc, i, i + 1, in_title=in_title)
            hits[key].score = ACRONYM_SCORE


_ACRONYM = re.compile(r"[A-ZА-ЯЁ][A-ZА-ЯЁ0-9]{2,7}")


def _unknown_acronym(surface: str, gazetteer: Gazetteer) -> bool:
    return (
        _ACRONYM.fullmatch(surface) is not None
        and surface not in gazetteer.acronyms
        and surface not in gazetteer.ignore_acronyms
        and re.fullmatch(r"[IVXLCDM]+", surface) is None
    )


def _topic_hits(docs: list[tuple[Tokens, bool]], gazetteer: Gazetteer) -> dict[str, _Hits]:
    """Return the topics that pass the rule: sentences with a hit + 2 x title hits >= 2.

    Hits are counted once per body sentence, so "the fight against terrorism
    and extremism" is one mention, not two.
    """
    hits: dict[str, _Hits] = {}
    body = docs[0][0]
    for doc, in_title in docs:
        for match in scan(doc, gazetteer.topics, None):
            for key in dict.fromkeys(e.id for e in match.entries):
                _collect(hits, key, doc, match.start, match.end, in_title=in_title)
    starts = body.sentence_starts()
    kept = {}
    for key, hit in hits.items():
        sentences = {bisect_right(starts, start) for start, _ in hit.spans}
        weight = len(sentences) + 2 * hit.title
        if weight >= TOPIC_MIN_WEIGHT:
            hit.score = round(min(1.0, weight / 6), 3)
            kept[key] = hit
    return kept


def _language_tag(language: str, version: str) -> Tag:
    code = (language or "und").strip().lower() or "und"
    record = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    label = str(record.name) if record is not None else ("Undetermined" if code == "und" else code)
    local = None
    if record is not None:
        local = gettext.translation(
            "iso639-3", pycountry.LOCALES_DIR, languages=[code], fallback=True
        ).gettext(record.name)
        local = local if local != label else None
    return Tag(id=f"lang:{code}", label=label, label_local=local, version=version)


def _labels(key: str, hit: _Hits, gazetteer: Gazetteer, code: str) -> tuple[str, str | None]:
    """Return a tag's label and its label in the document's language, if another."""
    kind, _, value = key.partition(":")
    local = gazetteer.local_labels.get((key, code)) if code != "en" else None
    label = gazetteer.labels.get(key)
    if kind == "person" and label is None:
        surface = hit.surface or key
        label = surface if surface.isascii() else anyascii(surface).title()
        local = surface if not surface.isascii() else None
    elif kind == "acronym":
        label = value
    return label or key, local


def _evidence(doc: Tokens, hit: _Hits, title: str | None) -> str | None:
    if hit.spans:
        return doc.sentence(hit.spans[0][0])
    return title


def tag(normalized: Normalized, language: str, gazetteer: Gazetteer | None = None) -> list[Tag]:
    """Return the document's tags, sorted by id. Never raises on any text.

    Deterministic and pure: the same document, language and gazetteer give the
    same tags. Offsets refer to `normalized.text`; a tag found only in the
    title has no offsets and the title as evidence.
    """
    gazetteer = gazetteer or load_gazetteer()
    version = gazetteer.version
    code = (language or "und").strip().lower() or "und"
    languages = languages_for(gazetteer, code)
    body = Tokens(normalized.text or "")
    title = Tokens(normalized.title) if normalized.title else None
    docs = [(body, False)] + ([(title, True)] if title is not None else [])

    tags = [_language_tag(code, version)]
    hits: dict[str, _Hits] = {}
    names = _entity_hits(body, False, gazetteer, languages, hits)
    if title is not None:
        _entity_hits(title, True, gazetteer, languages, hits)
    hits.update(_topic_hits(docs, gazetteer))
    title_text = normalized.title
    for key, hit in hits.items():
        label, local = _labels(key, hit, gazetteer, code)
        tags.append(
            Tag(
                id=key,
                label=label,
                score=hit.score,
                label_local=local if local != label else None,
                evidence=_evidence(body, hit, title_text),
                offsets=tuple(hit.spans[:MAX_OFFSETS]),
                version=version,
            )
        )
    stopwords = gazetteer.stopwords.get(code, frozenset())
    for suffix, label, score, spans in find_keywords(body, title, stopwords, names):
        tags.append(
            Tag(
                id=f"keyword:{suffix}",
                label=label,
                score=score,
                evidence=body.sentence(spans[0][0]),
                offsets=tuple(spans[:MAX_OFFSETS]),
                version=version,
            )
        )
    unique = {t.id: t for t in tags}
    return sorted(unique.values(), key=lambda t: t.id)
