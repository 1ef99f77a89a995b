"""Decide whether a document repeats, edits or translates a stored one.

The figures each decision rests on are computed in `matching/score.py`;
this module holds the decision alone.

Three relations, tried in this order for each candidate:

- `exact_duplicate`: the same content hash (matching form of the body).
- `near_duplicate`: an estimated Jaccard similarity of word 3-shingles (from
  the stored MinHash signatures) of at least `near_jaccard` (0.5), or, in the
  same language, the smaller text contained at `near_containment` (0.85) in
  the larger with Jaccard at least `near_min_jaccard` (0.35): a
  re-publication with a changed headline, added boilerplate or cut paragraphs;
  or more than `near_contained` (0.5) of the shorter text's word 5-shingles
  found in the longer one (`containment`), on at least
  `near_contained_sample` (20) of them: a copy cut short or re-edited, whose
  Jaccard similarity is low. Its evidence has `rule: containment`.
- `translation`: different languages and language-independent evidence
  (dates, numbers, tag ids, transliterated name skeletons, word skeletons).
  The score is

      coverage * (0.4 + 0.6 * order) * length_fit * time_fit * facts_fit

  where coverage is the weighted share of the evidence the two documents
  have in common (Dice; for names, the share of the smaller set, and against
  a script without letter case, half the cased side's names), order is the
  share of shared items at about the same relative position (0.5 with fewer
  than three), length_fit penalises a length ratio far from the languages'
  usual one, time_fit publication dates far apart, and facts_fit two texts
  that both state numbers and dates but mostly different ones
  (min(1, 0.3 + weighted Dice of numbers and dates)). Weights
  (`matching.evidence.evidence_weight`) favour rare evidence: a day of a month, an
  organisation or a number of four or more digits 3, a decimal 2.5, other
  numbers from 100 and names of four consonants 2, a year-month 1.5, a
  year, a number under 100, a country or a three-consonant name 1.

  The strength of a pair is the total weight of its shared evidence plus
  `LEXICAL_WEIGHT` (0.5) per aligned word: the longest chain of word
  skeletons (`lx`) that both texts have in the same order, each within
  `LEXICAL_TOLERANCE` (0.2) of the same relative position. Translations
  keep names, loanwords and terms in order; articles on one topic share
  some, scattered. A translation needs

  - score >= `translation_score` (0.5) and strength >= `translation_strength`
    (8: for example a day of a month, a rare number and a name), or
  - the dominance rule, for short articles with few facts: the best-scoring
    translation candidate has score >= `translation_score` and strength >=
    `dominant_strength` (4), and no candidate of another story scores more
    than `dominant_ratio` (0.5) of it.

  Two articles about the same event share names and some numbers but not
  most of them, nor in the same order: precision comes before recall, since
  a false merge hides an article.

  With embeddings on both sides (optional backend), a cosine similarity of at
  least `embedding_cosine` also accepts a pair whose offline score reaches
  `embedding_score_floor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.pipeline.containment import measure_containment
from services.pipeline.fingerprint import Fingerprint
from services.pipeline.matching.score import Party, Side, near_evidence, translation_evidence

EXACT = "exact_duplicate"
NEAR = "near_duplicate"
TRANSLATION = "translation"

_PRIORITY = {EXACT: 3, NEAR: 2, TRANSLATION: 1}
_UNDETERMINED = {"", "und", "unknown"}


@dataclass(frozen=True)
class Candidate:
    document_id: str
    story_id: str
    language: str
    published_at: datetime | None
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Match:
    document_id: str
    story_id: str
    relation: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds; see the module docstring for their meaning."""

    near_jaccard: float = 0.5
    near_containment: float = 0.85
    near_min_jaccard: float = 0.35
    near_contained: float = 0.5
    near_contained_sample: int = 20
    translation_score: float = 0.5
    translation_strength: float = 8.0
    position_tolerance: float = 0.15
    embedding_cosine: float = 0.8
    embedding_score_floor: float = 0.25
    dominant_strength: float = 4.0
    dominant_ratio: float = 0.5


@dataclass(frozen=True)
class Assessment:
    """One candidate weighed: its match, if any, and its translation evidence, if any."""

    candidate: Candidate
    match: Match | None
    evidence: dict[str, Any] | None


def decide(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    thresholds: Thresholds | None = None,
) -> Match | None:
    """Return the best match among the candidates, or None for a new story.

    Pure and deterministic: an exact duplicate beats a near duplicate beats a
    translation, then the higher score, then the smaller document id. When
    no candidate passes, the dominance rule may accept the best-scoring
    translation candidate; its evidence then has `rule` and `runner_up`.
    """
    thresholds = thresholds or Thresholds()
    return conclude(
        assess(fingerprint, language, published_at, candidates, thresholds=thresholds),
        thresholds,
    )


def assess(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    thresholds: Thresholds | None = None,
) -> list[Assessment]:
    """Weigh each candidate on its own; `conclude` then picks the match.

    Assessments of more candidates can be added later without weighing the
    first ones again.
    """
    if not candidates:
        return []
    thresholds = thresholds or Thresholds()
    mine = Side(fingerprint.data)
    return [
        Assessment(
            candidate, *_assess(fingerprint, language, published_at, candidate, thresholds, mine)
        )
        for candidate in candidates
    ]


def conclude(
    assessments: Sequence[Assessment], thresholds: Thresholds | None = None
) -> Match | None:
    """Return the best match of the assessed candidates, or None for a new story."""
    thresholds = thresholds or Thresholds()
    best: Match | None = None
    weighed: list[tuple[float, Candidate, dict[str, Any]]] = []
    for item in assessments:
        if item.match is not None and (best is None or _rank(item.match) > _rank(best)):
            best = item.match
        if item.evidence is not None:
            weighed.append((float(item.evidence["score"]), item.candidate, item.evidence))
    return best or _dominant(weighed, thresholds)


def _dominant(
    assessed: list[tuple[float, Candidate, dict[str, Any]]], thresholds: Thresholds
) -> Match | None:
    """Return the best translation candidate when no other story comes close.

    Accepts a candidate that reaches `translation_score` on less evidence
    than `translation_strength` (but at least `dominant_strength`) when every
    candidate of another story scores at most `dominant_ratio` of it: a short
    article's few facts then single out one stored article rather than a topic.
    """
    if not assessed:
        return None
    ranked = sorted(assessed, key=lambda item: (-item[0], item[1].document_id))
    score, best, evidence = ranked[0]
    if score < thresholds.translation_score or evidence["strength"] < thresholds.dominant_strength:
        return None
    runner_up = max(
        (other for other, c, _ in ranked[1:] if c.story_id != best.story_id), default=0.0
    )
    if runner_up > thresholds.dominant_ratio * score:
        return None
    return _match(
        best, TRANSLATION, score, {**evidence, "rule": "dominant", "runner_up": round(runner_up, 4)}
    )


def _rank(match: Match) -> tuple[int, float, tuple[int, ...]]:
    return (
        _PRIORITY[match.relation],
        round(match.score, 6),
        tuple(-ord(c) for c in match.document_id),
    )


def compare(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidate: Candidate,
    thresholds: Thresholds,
) -> Match | None:
    """Return the relation of a document to one candidate, or None."""
    mine = Side(fingerprint.data)
    return _assess(fingerprint, language, published_at, candidate, thresholds, mine)[0]


def _assess(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidate: Candidate,
    thresholds: Thresholds,
    mine: Side,
) -> tuple[Match | None, dict[str, Any] | None]:
    """Return the match to one candidate, if any, and the translation evidence."""
    other = candidate.fingerprint
    if other.content_hash == fingerprint.content_hash:
        return _match(candidate, EXACT, 1.0, {"content_hash": fingerprint.content_hash}), None
    theirs = Side(other.data)
    near = near_evidence(mine, theirs)
    jaccard, containment = near["jaccard"], near["containment"]
    # Shingles are words of one language: texts that share half of them are
    # in one language whatever the detector said.
    if jaccard >= thresholds.near_jaccard or (
        _same_language(language, candidate.language)
        and containment >= thresholds.near_containment
        and jaccard >= thresholds.near_min_jaccard
    ):
        return _match(candidate, NEAR, jaccard, near), None
    # Texts that share no MinHash value share next to no shingles: most
    # candidates are spared the sketch comparison.
    contained = (
        measure_containment(mine.sketch, mine.shingles, theirs.sketch, theirs.shingles)
        if jaccard > 0
        else None
    )
    if (
        contained is not None
        and contained.value > thresholds.near_contained
        and contained.sample >= thresholds.near_contained_sample
    ):
        evidence = {**near, **contained.to_json(), "rule": "containment"}
        return _match(candidate, NEAR, contained.value, evidence), None
    if _same_language(language, candidate.language):
        return None, None
    if language.lower() in _UNDETERMINED or candidate.language.lower() in _UNDETERMINED:
        return None, None
    evidence = translation_evidence(
        Party(mine, language, published_at),
        Party(theirs, candidate.language, candidate.published_at),
        position_tolerance=thresholds.position_tolerance,
    )
    score, strength = evidence["score"], evidence["strength"]
    accepted = score >= thresholds.translation_score and strength >= thresholds.translation_strength
    cosine = evidence.get("cosine")
    if not accepted and cosine is not None:
        accepted = (
            cosine >= thresholds.embedding_cosine and score >= thresholds.embedding_score_floor
        )
    if accepted:
        return _match(candidate, TRANSLATION, score, evidence), evidence
    return None, evidence


def _match(candidate: Candidate, relation: str, score: float, evidence: dict[str, Any]) -> Match:
    return Match(candidate.document_id, candidate.story_id, relation, round(score, 4), evidence)


def _same_language(a: str, b: str) -> bool:
    return a.split("-", maxsplit=1)[0].lower() == b.split("-", maxsplit=1)[0].lower()
