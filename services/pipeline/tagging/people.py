"""Recognize people's names by rule, around cues from person_cues.toml.

Rules, for every language with cues:

1. before-cue: a title or role, optionally followed by "of/to/in <known
   country or org>" (Arabic: the country, a demonym, adjectives, "لدى
   <country>"), optionally a comma (not in Arabic), then a name:
   "President of Kazakhstan Kassym-Jomart Tokayev", "السفير خيرات لاما شريف".
2. said: "said <Name>", "قالت <name>".
3. after-cue: "<Name>, [the] <role>": "Tatiana Molcean, Executive Secretary".
4. appositive: ", <Name>," or ", <Name>." in a sentence that has a
   before-cue earlier: "the Head of ... Cooperation, Afnan Al-Shuaibi, praised".

A name is 2-5 capitalized words (particles like "al", "bin" inside), or in
Arabic 2-4 words that are no stopword, carry no tanween and are no known
country or organisation, the first not starting with ال or و. A single
capitalized word counts only right after a before-cue ("Ambassador
Alimbayev"). Names the people gazetteer already matched are left to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from services.pipeline.tagging.gazetteer import Gazetteer
from services.pipeline.tagging.match import Match
from services.pipeline.tagging.tokens import JOINER, Tokens
from services.pipeline.text.scripts import ARABIC, script_of
from services.pipeline.text.stems import ARABIC_ARTICLE_CLITICS

_TANWEEN = frozenset("\u064b\u064c\u064d")
_COMPLEMENT = frozenset({"of", "to", "in", "for", "at", "the", "в", "во", "при", "по", "на"})


class Person(NamedTuple):
    start: int
    end: int
    partial: bool  # a single word, e.g. "Ambassador Alimbayev"


@dataclass(frozen=True)
class _Context:
    """One text's tokens, with the tokens known names already hold."""

    doc: Tokens
    gazetteer: Gazetteer
    taken: set[int]
    entity_end: dict[int, int]  # start -> end of each known place or organisation

    def is_arabic(self, i: int) -> bool:
        return script_of(self.doc.forms[i]) == ARABIC


def find_people(
    doc: Tokens, gazetteer: Gazetteer, entities: list[Match], cues: list[Match]
) -> list[Person]:
    """Find people's names with the module's cue rules; every span returned is a name."""
    context = _Context(
        doc,
        gazetteer,
        taken={i for m in entities for i in range(m.start, m.end)},
        entity_end={m.start: m.end for m in entities if m.entries[0].kind != "person"},
    )
    found: list[Person] = []
    for cue in cues:
        kinds = {e.kind for e in cue.entries}
        if kinds & {"cue-before", "cue-said"}:
            found += _after_cue(context, cue, before="cue-before" in kinds)
        if "cue-after" in kinds:
            found += _before_cue(context, cue)
    before = [c.start for c in cues if any(e.kind == "cue-before" for e in c.entries)]
    return found + _appositives(context, before)


def _after_cue(context: _Context, cue: Match, *, before: bool) -> list[Person]:
    """Rules 1 and 2: the name after a title ("President ...") or "said"."""
    doc = context.doc
    if cue.end >= len(doc):
        return []
    arabic = context.is_arabic(cue.start)
    j, skipped = _skip_complement(context, cue.end)
    if j >= len(doc):
        return []
    gap = doc.gap(j)
    comma = not arabic and gap.strip() == "," and (skipped or before)
    if not (JOINER.fullmatch(gap) or comma):
        return []
    end = _name_from(context, j, arabic=arabic, limit=4 if arabic else 5)
    size = end - j
    if size >= 2 or (size == 1 and before and not arabic):
        return [Person(j, end, size == 1)]
    return []


def _before_cue(context: _Context, cue: Match) -> list[Person]:
    """Rule 3: "<Name>, [the] <role>"."""
    doc = context.doc
    if context.is_arabic(cue.start) or cue.start <= 1:
        return []
    end = cue.start
    if doc.forms[end - 1] in ("the", "former") and JOINER.fullmatch(doc.gap(end)):
        end -= 1
    if doc.gap(end).strip() != ",":
        return []
    start = _name_before(context, end, limit=5)
    return [Person(start, end, False)] if end - start >= 2 else []


def _appositives(context: _Context, before: list[int]) -> list[Person]:
    """Rule 4: ", <Name>," after a before-cue earlier in the same sentence."""
    doc = context.doc
    found = []
    for i in range(1, len(doc)):
        if doc.gap(i).strip() not in (",", "،"):
            continue
        arabic = context.is_arabic(i)
        end = _name_from(context, i, arabic=arabic, limit=3 if arabic else 4)
        if end - i < 2:
            continue
        closing = doc.gap(end).strip()[:1] if end < len(doc) else "."
        if closing in (",", ".", "،", ";", "؛") and any(
            c < i and doc.same_sentence(c, i) for c in before
        ):
            found.append(Person(i, end, False))
    return found


def _name_token(context: _Context, i: int, arabic: bool) -> bool:
    if i in context.taken:
        return False
    doc, gazetteer = context.doc, context.gazetteer
    form = doc.forms[i]
    surface = doc.surface(i)
    if arabic:
        return (
            len(form) >= 2
            and not form.isdigit()
            and form not in gazetteer.stopwords.get("ar", frozenset())
            and not _TANWEEN.intersection(surface)
            and not form.startswith(ARABIC_ARTICLE_CLITICS)
        )
    return (
        surface[:1].isupper()
        and not surface.isupper()
        and surface not in gazetteer.not_names
        and not form.isdigit()
    )


def _name_from(context: _Context, i: int, *, arabic: bool, limit: int) -> int:
    """Return the end of the name starting at token i (i itself when none)."""
    doc, particles = context.doc, context.gazetteer.particles
    j = i
    while j < len(doc) and j - i < limit:
        if j > i and not JOINER.fullmatch(doc.gap(j)):
            break
        if _name_token(context, j, arabic):
            form = doc.forms[j]
            if arabic and _ends_arabic_name(form, first=j == i):
                break
            j += 1
            if arabic and form.startswith("ال"):
                break
        elif j > i and doc.forms[j] in particles:
            j += 1
        else:
            break
    while j > i and doc.forms[j - 1] in particles:
        j -= 1
    return j


def _ends_arabic_name(form: str, *, first: bool) -> bool:
    # A name neither starts with the article nor goes on after an
    # article-bearing family name; a word starting with و is "and ...".
    return len(form) > 3 and (form.startswith("و") or (form.startswith("ال") and first))


def _skip_complement(context: _Context, j: int) -> tuple[int, bool]:
    """Skip what may sit between a title and a name; return (index, skipped a place)."""
    doc, gazetteer, entity_end = context.doc, context.gazetteer, context.entity_end
    arabic = context.is_arabic(j - 1)
    skipped = False
    for _ in range(6):
        if j >= len(doc) or not JOINER.fullmatch(doc.gap(j)):
            break
        if j in entity_end:
            j, skipped = entity_end[j], True
        elif arabic and doc.variants[j][0] in gazetteer.cue_skips:
            j += 1  # "لدى", "الشهيرة", ...
        elif arabic and doc.forms[j] in gazetteer.stopwords.get("ar", frozenset()):
            break
        elif arabic and doc.forms[j].startswith("ال") and j not in context.taken:
            j += 1  # an adjective agreeing with the title
        else:
            place_end = _place_after_complement(context, j)
            if place_end is None:
                break
            j, skipped = place_end, True
    return j, skipped


def _place_after_complement(context: _Context, j: int) -> int | None:
    """Return the end of "of/to/in <known place or org>" starting at token j, if any."""
    doc, entity_end = context.doc, context.entity_end
    k = j
    while k < len(doc) and doc.forms[k] in _COMPLEMENT and JOINER.fullmatch(doc.gap(k)):
        k += 1
    if k == j or k not in entity_end or not JOINER.fullmatch(doc.gap(k)):
        return None
    return entity_end[k]


def _name_before(context: _Context, end: int, limit: int) -> int:
    """Return the start of a capitalized name ending just before token `end`."""
    doc, particles = context.doc, context.gazetteer.particles
    start = end
    while start > 0 and end - start < limit:
        k = start - 1
        if k < end - 1 and not JOINER.fullmatch(doc.gap(k + 1)):
            break
        if _name_token(context, k, False) or (k < end - 1 and doc.forms[k] in particles):
            start = k
        else:
            break
    while start < end and doc.forms[start] in particles:
        start += 1
    return start
