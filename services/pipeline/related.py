"""Link a story to other coverage of its event: different articles, kept apart.

Two outlets reporting one event write two articles: matching keeps them two
stories (a false merge hides an article). What they share is worth showing
all the same, so media monitors can count coverage per event: a `related`
link between the two stories, with its score and evidence.

`find_related` looks at the candidates the matcher weighed for a document
and did not merge it with. Same event means shared specific facts: names
(skeletons of four letters, in scripts with letter case), entity ids other
than countries, numbers of at least 100 or with decimals, and days of a
month other than those around either document's publication (in early
January, "1 January" is in every other article). Every link needs at least
two, and then one of:

- in one language, a good share of the smaller text's long words (the
  fingerprint's `lx` skeletons) in the other: articles on one topic share
  names and numbers too, but fewer of their words;
- across languages, where words rarely carry over, three facts of two kinds
  and enough weight;
- an embedding cosine, when the caller has one, at or above `close_cosine`.
  A cosine below `far_cosine` blocks the link.

The score is the mean of what was measured: the facts' weight (1.0 at
`full_weight`), the word overlap, the cosine.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.pipeline.dedup import Candidate
from services.pipeline.fingerprint import Fingerprint
from services.pipeline.matching.evidence import evidence_weight
from services.pipeline.matching.score import Side

RELATED = "related"
_KINDS = {"s": "names", "t": "entities", "n": "numbers", "d": "dates"}


@dataclass(frozen=True)
class RelatedThresholds:
    """When shared facts make two stories coverage of one event."""

    # Across languages: at least this many facts, of this many kinds and weight.
    min_facts: int = 3
    min_weight: float = 7.0
    min_kinds: int = 2
    # In one language, where facts alone link too many articles on one
    # topic: `close_facts` facts and this share of the smaller text's long
    # words (`lx` skeletons) found in the other.
    min_word_overlap: float = 0.35
    # A fact counts when its weight (`matching.evidence.evidence_weight`) is at least this.
    specific_weight: float = 2.0
    # Days of a month this close to either publication date are no evidence.
    date_window_days: int = 3
    # Every link needs `close_facts` facts. With an embedding cosine: at or
    # above `close_cosine` they suffice; below `far_cosine`, no link.
    close_cosine: float = 0.85
    close_facts: int = 2
    far_cosine: float = 0.6
    # The score reaches 1.0 at this much shared weight.
    full_weight: float = 16.0
    max_links: int = 10


@dataclass(frozen=True)
class RelatedLink:
    """A candidate's story that covers the same event, with the facts that say so."""

    story_id: str
    document_id: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Prepared:
    """What a comparison reads of one document: its specific facts, long words and language."""

    facts: dict[str, float]
    words: frozenset[str]
    language: str


def find_related(
    fingerprint: Fingerprint,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    story_id: str | None = None,
    cosines: Mapping[str, float] | None = None,
    thresholds: RelatedThresholds | None = None,
) -> list[RelatedLink]:
    """Return the candidates' stories that cover the document's event, best first.

    Pure and deterministic. Candidates of `story_id` (the story the document
    joined or started) are skipped; one link per other story, its best
    candidate's; at most `max_links`. `cosines`: an embedding cosine by
    candidate document id, where known.
    """
    thresholds = thresholds or RelatedThresholds()
    mine = Side(fingerprint.data)
    mine_specific = _specific(mine, published_at, thresholds)
    # Without letter case every word yields a "name": only dates, numbers and
    # entities then count.
    caseless = {k: w for k, w in mine_specific.items() if not k.startswith("s:")}
    prepared = _Prepared(
        mine_specific if mine.cased else caseless, frozenset(mine.words), _language(mine.data)
    )
    best: dict[str, RelatedLink] = {}
    for candidate in candidates:
        if candidate.story_id == story_id:
            continue
        cosine = (cosines or {}).get(candidate.document_id)
        link = _relate(prepared, published_at, candidate, cosine, thresholds)
        if link is None:
            continue
        known = best.get(candidate.story_id)
        if known is None or (link.score, known.document_id) > (known.score, link.document_id):
            best[candidate.story_id] = link
    ranked = sorted(best.values(), key=lambda link: (-link.score, link.story_id))
    return ranked[: thresholds.max_links]


def _relate(
    prepared: _Prepared,
    published_at: datetime | None,
    candidate: Candidate,
    cosine: float | None,
    thresholds: RelatedThresholds,
) -> RelatedLink | None:
    if cosine is not None and cosine < thresholds.far_cosine:
        return None
    mine, words, language = prepared.facts, prepared.words, prepared.language
    other = _prepared(candidate, thresholds)
    shared = sorted(
        k for k in set(mine).intersection(other.facts) if _date_ok(k, published_at, thresholds)
    )
    if len(shared) < thresholds.close_facts:
        return None
    weight = sum(min(mine[k], other.facts[k]) for k in shared)
    kinds = {k[:1] for k in shared}
    same_language = language == other.language != ""
    overlap = _overlap(words, other.words) if same_language else None
    by_facts = (
        not same_language
        and len(shared) >= thresholds.min_facts
        and len(kinds) >= thresholds.min_kinds
        and weight >= thresholds.min_weight
    )
    by_words = overlap is not None and overlap >= thresholds.min_word_overlap
    by_cosine = cosine is not None and cosine >= thresholds.close_cosine
    if not (by_facts or by_words or by_cosine):
        return None
    parts = [min(1.0, weight / thresholds.full_weight)]
    parts += [overlap] if overlap is not None else []
    parts += [max(0.0, cosine)] if cosine is not None else []
    evidence: dict[str, Any] = {
        "relation": RELATED,
        "facts": len(shared),
        "weight": round(weight, 2),
        **{name: [k[2:] for k in shared if k[:1] == kind] for kind, name in _KINDS.items()},
    }
    if overlap is not None:
        evidence["word_overlap"] = round(overlap, 4)
    if cosine is not None:
        evidence["cosine"] = round(cosine, 4)
    score = sum(parts) / len(parts)
    return RelatedLink(candidate.story_id, candidate.document_id, round(score, 4), evidence)


def _language(data: Mapping[str, Any]) -> str:
    return str(data.get("lang") or "").split("-", maxsplit=1)[0].lower()


def _overlap(mine: frozenset[str], theirs: frozenset[str]) -> float:
    """Return the share of the smaller text's distinct long-word skeletons the other has."""
    return len(mine & theirs) / min(len(mine), len(theirs)) if mine and theirs else 0.0


# What `_relate` reads of a candidate, by document id: a stored document's
# fingerprint never changes, and the same recent documents are candidates
# of document after document. Bounded; each entry is a few kB.
_PREPARED: OrderedDict[tuple[str, RelatedThresholds], _Prepared] = OrderedDict()
_PREPARED_SIZE = 4096


def _prepared(candidate: Candidate, thresholds: RelatedThresholds) -> _Prepared:
    key = (candidate.document_id, thresholds)
    found = _PREPARED.get(key)
    if found is not None:
        _PREPARED.move_to_end(key)
        return found
    side = Side(candidate.fingerprint.data)
    facts = _specific(side, candidate.published_at, thresholds)
    if not side.cased:
        facts = {k: w for k, w in facts.items() if not k.startswith("s:")}
    found = _Prepared(facts, frozenset(side.words), _language(side.data))
    _PREPARED[key] = found
    while len(_PREPARED) > _PREPARED_SIZE:
        _PREPARED.popitem(last=False)
    return found


def _specific(
    side: Side, published_at: datetime | None, thresholds: RelatedThresholds
) -> dict[str, float]:
    """Return the document's specific facts with their weights."""
    found: dict[str, float] = {}
    for kind in _KINDS:
        for key in side.groups[kind]:
            weight = evidence_weight(key)
            if weight < thresholds.specific_weight:
                continue
            if kind == "t" and key.startswith("t:country:"):
                continue
            if not _date_ok(key, published_at, thresholds):
                continue
            found[key] = weight
    return found


def _date_ok(key: str, published_at: datetime | None, thresholds: RelatedThresholds) -> bool:
    """Return False for a day of a month close to the publication date."""
    if not key.startswith("d:") or published_at is None:
        return True
    try:
        month, day = (int(part) for part in key[2:].split("-"))
    except ValueError:
        return True
    for year in (published_at.year - 1, published_at.year, published_at.year + 1):
        try:
            moment = published_at.replace(year=year, month=month, day=day)
        except ValueError:
            continue
        if abs(moment - published_at) <= timedelta(days=thresholds.date_window_days):
            return False
    return True
