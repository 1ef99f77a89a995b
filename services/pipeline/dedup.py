"""Decide whether a document repeats, edits or translates a stored one.

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
  (`fingerprint.evidence_weight`) favour rare evidence: a day of a month, an
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

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from services.pipeline.containment import decode as decode_sketch
from services.pipeline.containment import measure_containment
from services.pipeline.fingerprint import (
    Fingerprint,
    decode_signature,
    evidence_weight,
    length_factor,
)

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
        mine,
        theirs,
        language,
        candidate.language,
        published_at,
        candidate.published_at,
        thresholds,
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


def near_evidence(mine: Side, theirs: Side) -> dict[str, Any]:
    """Return the estimated Jaccard and containment of two shingle sets."""
    a, b = mine.signature, theirs.signature
    if not len(a) or len(a) != len(b):
        return {"jaccard": 0.0, "containment": 0.0, "shingles": [0, 0]}
    jaccard = float(np.count_nonzero(a == b)) / len(a)
    sizes = [int(mine.data.get("ns", 0)), int(theirs.data.get("ns", 0))]
    shared = jaccard * sum(sizes) / (1 + jaccard)
    containment = min(1.0, shared / max(1, min(sizes)))
    return {
        "jaccard": round(jaccard, 4),
        "containment": round(containment, 4),
        "shingles": sizes,
    }


CASELESS_NAME_SHARE = 0.5
LEXICAL_WEIGHT = 0.5
LEXICAL_TOLERANCE = 0.2
FACTS_MIN_WEIGHT = 4.0
FACTS_FLOOR = 0.3
_KINDS = {"n": "numbers", "d": "dates", "m": "dates", "s": "names", "t": "entities"}


class Side:
    """One document's fingerprint data, prepared once for every comparison it takes part in.

    What `decide` would otherwise derive again for each of some fifty
    candidates: the decoded MinHash signature, the evidence keys by kind
    with their weights, the facts and the lexical skeletons.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.ev: dict[str, float] = data.get("ev") or {}
        self.cased = bool(data.get("cased", True))

    # Derived on first use: most candidates never get past the near check.
    @functools.cached_property
    def signature(self) -> np.ndarray:
        return decode_signature(str(self.data.get("mh", "")))

    @functools.cached_property
    def sketch(self) -> np.ndarray:
        return decode_sketch(str(self.data.get("cs", "")))

    @property
    def shingles(self) -> int:
        return int(self.data.get("nc", 0))

    @functools.cached_property
    def groups(self) -> dict[str, set[str]]:
        return _by_kind(self.ev)

    @functools.cached_property
    def weights(self) -> dict[str, float]:
        return {kind: sum(map(evidence_weight, keys)) for kind, keys in self.groups.items()}

    @functools.cached_property
    def facts(self) -> set[str]:
        return self.groups["n"] | self.groups["d"] | self.groups["m"]

    @functools.cached_property
    def facts_weight(self) -> float:
        return self.weights["n"] + self.weights["d"] + self.weights["m"]

    @functools.cached_property
    def words(self) -> list[str]:
        return str(self.data.get("lx", "")).split()

    @functools.cached_property
    def where(self) -> dict[str, float]:
        return {word: i / len(self.words) for i, word in enumerate(self.words)}


def translation_evidence(
    side: Side,
    other_side: Side,
    language: str,
    other_language: str,
    published_at: datetime | None,
    other_published_at: datetime | None,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Return the translation score of two documents and what it rests on.

    Symmetric in its two documents. The result is JSON-serializable and has
    `score` and `strength` (total weight of the shared evidence).
    """
    data, other = side.data, other_side.data
    mine, theirs = side.ev, other_side.ev
    cased, other_cased = side.cased, other_side.cased
    shared_weight = denominator = 0.0
    shared: dict[str, list[str]] = {name: [] for name in ("dates", "numbers", "names", "entities")}
    matched: list[tuple[str, str]] = []
    for kind, name in _KINDS.items():
        if kind == "s" and not (cased or other_cased):
            continue
        a, b = side.groups[kind], other_side.groups[kind]
        pairs = [(k, k) for k in sorted(a & b)]
        if kind == "s":
            pairs += _prefix_matches(a - b, b - a)
        weight_a, weight_b = side.weights[kind], other_side.weights[kind]
        if kind == "s":
            # Languages capitalise different words (English titles, German
            # nouns): expect the smaller set of capitalised words to be shared,
            # and half of them against a script without letter case.
            if cased and other_cased:
                denominator += min(weight_a, weight_b)
            else:
                denominator += CASELESS_NAME_SHARE * (weight_a if cased else weight_b)
        else:
            denominator += (weight_a + weight_b) / 2
        shared_weight += sum(min(evidence_weight(p), evidence_weight(q)) for p, q in pairs)
        shared[name].extend(p if len(p) <= len(q) else q for p, q in pairs)
        matched.extend(pairs)
    coverage = min(1.0, shared_weight / denominator) if denominator else 0.0
    facts = _facts_fit(side, other_side)
    aligned, lexical = _align(side.words, other_side.words, other_side.where)

    placed = [(mine[p], theirs[q]) for p, q in matched if mine[p] >= 0 and theirs[q] >= 0]
    if len(placed) >= 3:
        close = sum(abs(x - y) <= thresholds.position_tolerance for x, y in placed)
        order = close / len(placed)
    else:
        order = 0.5

    length_ratio = _length_ratio(data, other, language, other_language)
    misfit = abs(math.log(length_ratio)) if length_ratio > 0 else 9.0
    length_fit = 1.0 if misfit <= 0.4 else max(0.0, 1.0 - (misfit - 0.4) / 0.6)
    hours = None
    time_fit = 1.0
    if published_at is not None and other_published_at is not None:
        try:
            hours = abs((published_at - other_published_at).total_seconds()) / 3600
        except TypeError:
            hours = None
        if hours is not None and hours > 72:
            time_fit = 0.85 if hours <= 24 * 14 else 0.6

    score = coverage * (0.4 + 0.6 * order) * length_fit * time_fit * facts
    evidence: dict[str, Any] = {
        "score": round(score, 4),
        "strength": round(shared_weight + LEXICAL_WEIGHT * len(aligned), 2),
        "aligned_words": len(aligned),
        "words": aligned[:20],
        "lexical": round(lexical, 4),
        "coverage": round(coverage, 4),
        "order": round(order, 4),
        "facts_fit": round(facts, 4),
        "length_ratio": round(length_ratio, 3),
        "hours_apart": None if hours is None else round(hours, 1),
        "dates": [k[2:] for k in shared["dates"]],
        "numbers": [k[2:] for k in shared["numbers"]],
        "names": _surfaces(shared["names"], data, other),
        "entities": [k[2:] for k in shared["entities"]],
        "passages": _passages(matched, mine, theirs, data, other),
    }
    cosine = _cosine(data.get("emb"), other.get("emb"))
    if cosine is not None:
        evidence["cosine"] = round(cosine, 4)
    return evidence


def lexical_alignment(mine: str, theirs: str) -> tuple[list[str], float]:
    """Return the word skeletons both texts have in the same order, and their share.

    Translations keep loanwords, names and terms in about the same order; two
    articles on one topic share some but scattered. The aligned words are the
    longest chain of shared skeletons at about the same relative position in
    both texts (a longest increasing subsequence); the share is their number
    over the smaller text's number of skeletons.
    """
    b = theirs.split()
    return _align(mine.split(), b, {word: i / len(b) for i, word in enumerate(b)})


def _align(a: list[str], b: list[str], where: dict[str, float]) -> tuple[list[str], float]:
    # `where`: each word of b at its relative position (the last, if repeated).
    if not a or not b:
        return [], 0.0
    close = [
        (where[word], word)
        for i, word in enumerate(a)
        if word in where and abs(i / len(a) - where[word]) <= LEXICAL_TOLERANCE
    ]
    tails: list[float] = []
    chain: list[int] = []
    parents: list[int] = []
    for index, (position, _) in enumerate(close):
        slot = bisect.bisect_left(tails, position)
        parents.append(chain[slot - 1] if slot else -1)
        if slot == len(tails):
            tails.append(position)
            chain.append(index)
        else:
            tails[slot] = position
            chain[slot] = index
    aligned: list[str] = []
    index = chain[-1] if chain else -1
    while index >= 0:
        aligned.append(close[index][1])
        index = parents[index]
    return aligned[::-1], len(aligned) / min(len(a), len(b))


def _facts_fit(side: Side, other_side: Side) -> float:
    """Return 1.0 unless both texts state numbers and dates that mostly differ.

    A translation carries its numbers and dates over; an article on the same
    event written the next day repeats the names but brings new figures.
    """
    weight_a, weight_b = side.facts_weight, other_side.facts_weight
    if min(weight_a, weight_b) < FACTS_MIN_WEIGHT:
        return 1.0
    common = side.facts & other_side.facts
    dice = 2 * sum(evidence_weight(k) for k in common) / (weight_a + weight_b)
    return min(1.0, FACTS_FLOOR + dice)


def _by_kind(evidence: dict[str, float]) -> dict[str, set[str]]:
    """Split evidence keys by their kind letter (`n:2010` is a number), in one pass."""
    groups: dict[str, set[str]] = {kind: set() for kind in _KINDS}
    for key in evidence:
        group = groups.get(key[:1])
        if group is not None and key[1:2] == ":":
            group.add(key)
    return groups


def _prefix_matches(a: set[str], b: set[str]) -> list[tuple[str, str]]:
    """Pair 3-letter skeletons of one side with the skeletons they begin on the other.

    Inflection can add a consonant to a short name ('ptn' Putin, 'ptns'
    Putins); such a match counts with the short key's (lower) weight. Each
    short key pairs with the first key, in sorted order, that it begins.
    """
    found = []
    for shorter, longer, flipped in ((a, sorted(b), False), (b, sorted(a), True)):
        for key in sorted(k for k in shorter if len(k) == 5):
            at = bisect.bisect_left(longer, key)
            if at < len(longer) and longer[at].startswith(key):
                found.append((longer[at], key) if flipped else (key, longer[at]))
    return found


def _length_ratio(data: dict[str, Any], other: dict[str, Any], lang: str, other_lang: str) -> float:
    mine = float(data.get("len", 0)) / length_factor(lang)
    theirs = float(other.get("len", 0)) / length_factor(other_lang)
    if mine <= 0 or theirs <= 0:
        return 0.0
    return mine / theirs


def _surfaces(keys: list[str], data: dict[str, Any], other: dict[str, Any]) -> list[str]:
    mine, theirs = data.get("sf") or {}, other.get("sf") or {}
    return [mine.get(k[2:]) or theirs.get(k[2:]) or k[2:] for k in keys]


def _passages(
    matched: list[tuple[str, str]],
    mine: dict[str, float],
    theirs: dict[str, float],
    data: dict[str, Any],
    other: dict[str, Any],
) -> list[dict[str, Any]]:
    starts_a, starts_b = data.get("par") or [0.0], other.get("par") or [0.0]
    pairs: dict[tuple[int, int], list[str]] = {}
    for key, other_key in matched:
        if mine[key] < 0 or theirs[other_key] < 0:
            continue
        a = max(0, bisect.bisect_right(starts_a, mine[key]) - 1)
        b = max(0, bisect.bisect_right(starts_b, theirs[other_key]) - 1)
        pairs.setdefault((a, b), []).append(key)
    ranked = sorted(pairs.items(), key=lambda item: (-len(item[1]), item[0]))[:8]
    return [{"paragraph": a, "other_paragraph": b, "keys": ks} for (a, b), ks in ranked]


def _cosine(a: Any, b: Any) -> float | None:
    if not a or not b or len(a) != len(b):
        return None
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / norm if norm else None
