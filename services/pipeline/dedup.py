"""Decide whether a document repeats, edits or translates a stored one.

Three relations, tried in this order for each candidate:

- `exact_duplicate`: the same content hash (matching form of the body).
- `near_duplicate`: an estimated Jaccard similarity of word 3-shingles (from
  the stored MinHash signatures) of at least `near_jaccard` (0.5), or, in the
  same language, the smaller text contained at `near_containment` (0.85) in
  the larger with Jaccard at least `near_min_jaccard` (0.35): a
  re-publication with a changed headline, added boilerplate or cut paragraphs.
- `translation`: different languages, decided by a fitted model over
  signals of the pair (`fusion`, fitted by `python -m bench.fit`):

  ``offline_score``  coverage * (0.4 + 0.6 * order) * length_fit * time_fit
                     * facts_fit, over language-independent evidence (dates,
                     numbers, tag ids, transliterated name skeletons): the
                     weighted share the two have in common, the share at about
                     the same relative position, the fit of their lengths and
                     publication times, and whether their numbers and dates
                     mostly agree;
  ``specific``       log(1 + total weight of the shared facts), each fact
                     weighed by its kind, its rarity among the documents
                     stored around the same time and the calendar
                     (`specificity`): the current year or a date near the
                     publication date counts nearly nothing;
  ``kinds``          how many kinds of fact (numbers, dates, names, entities)
                     the pair shares with a weight of at least `KIND_WEIGHT`;
  ``order``          the share of shared items at the same relative position;
  ``misfit``         |log| of the length ratio over the languages' usual one;
  ``aligned``        log(1 + words of a chain of word skeletons in order);
  ``spread``         the share of both texts that the shared items span: a
                     translation's facts run through the article, a passage
                     quoted or translated into another article is one place;
  ``score_margin``   the offline score over the best of another story's;
  ``cosine``         the embedding cosine (with vectors on both sides);
  ``cosine_margin``  the cosine over the best of another story's.

  Embeddings see the event rather than the article (another outlet's report
  of the same event is as close as a translation), so the article-level
  signals (order, facts, length) carry the decision with them. Gates come
  before the model: no link on names alone or on the calendar alone (the
  shared numbers, dates and entities must weigh `MIN_FACTS` after
  specificity), and without vectors the shared facts must be of two kinds.
  The most probable candidate wins when it reaches the model's threshold
  and its log-odds exceed those of every candidate of another story by
  `MARGIN`. The evidence of a link lists the signals, each shared fact's
  weight, the probability and the runner-up.
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
import pycountry

from services.pipeline.fingerprint import (
    Fingerprint,
    decode_signature,
    evidence_weight,
    length_factor,
)
from services.pipeline.fusion import Fusion, load_fusion
from services.pipeline.specificity import (
    NO_FREQUENCIES,
    Frequencies,
    fact_weight,
    reference_date,
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
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


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
    position_tolerance: float = 0.15


# Gates of the translation decision (module docstring). The offline score
# is mostly coverage: two articles built from some of the same material
# share many names and words but a small part of all they state.
MIN_OFFLINE_SCORE = 0.25
# A number of four or more digits (prior weight 3) seen in a fifth of the
# window still weighs about 1.2; the current year weighs 0.1.
MIN_FACTS = 1.0
KIND_WEIGHT = 1.0
MIN_KINDS_OFFLINE = 2
# Or, of one kind, numbers, dates and entities weighing this much together:
# several specific facts (where names do not transliterate, as from Han).
SEVERAL_FACTS = 4.0
# Or the text's structure: this many word skeletons (names, loanwords,
# terms) in the same order through both texts, spanning this much of them.
ALIGNED_WORDS = 10
ALIGNED_SPREAD = 0.3
MIN_SPECIFIC = 1.0
# With vectors and no specific number, date or entity: this many names.
SEVERAL_NAMES = 2
# Shared items, this many or more, that all sit in one passage of both texts
# (spanning less than MIN_SPREAD of each) while both texts state other facts
# elsewhere that the other lacks: a caption or quote carried into another
# article, not a translation of the article.
ONE_PASSAGE_ITEMS = 3
MIN_SPREAD = 0.05
# Log-odds by which the winner must beat the best candidate of another story.
MARGIN = 1.0
# Log-odds by which the winner's own match in the document's language (the
# original's story holds a document in it) may beat the document's: two
# independent translations of one original weigh about the same, another
# article on the event weighs far less than the original's own translation.
MUTUAL_SLACK = 3.0
# Rivals of other stories checked for being the winner's own article.
RIVALS_CHECKED = 3


@dataclass(frozen=True)
class Assessment:
    """One candidate weighed: its match, if any, and its translation evidence, if any."""

    candidate: Candidate
    match: Match | None
    evidence: dict[str, Any] | None
    frequencies: Frequencies = field(default=NO_FREQUENCIES, compare=False, repr=False)


def decide(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    thresholds: Thresholds | None = None,
    vector: np.ndarray | None = None,
    frequencies: Frequencies | None = None,
    fusion: Fusion | None = None,
) -> Match | None:
    """Return the best match among the candidates, or None for a new story.

    Pure and deterministic: an exact duplicate beats a near duplicate beats a
    translation, then the higher score, then the smaller document id.
    `vector`: the document's embedding, when it has one; `frequencies`: the
    fact document frequencies of the window (none: every fact is rare).
    """
    thresholds = thresholds or Thresholds()
    return conclude(
        assess(
            fingerprint,
            language,
            published_at,
            candidates,
            thresholds=thresholds,
            vector=vector,
            frequencies=frequencies,
        ),
        thresholds,
        fusion=fusion,
    )


def assess(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    thresholds: Thresholds | None = None,
    vector: np.ndarray | None = None,
    frequencies: Frequencies | None = None,
) -> list[Assessment]:
    """Weigh each candidate on its own; `conclude` then picks the match.

    Assessments of more candidates can be added later without weighing the
    first ones again.
    """
    if not candidates:
        return []
    thresholds = thresholds or Thresholds()
    mine = Side(fingerprint.data)
    context = _Context(vector, frequencies or NO_FREQUENCIES)
    return [
        Assessment(
            candidate,
            *_assess(fingerprint, language, published_at, candidate, thresholds, mine, context),
            context.frequencies,
        )
        for candidate in candidates
    ]


def conclude(
    assessments: Sequence[Assessment],
    thresholds: Thresholds | None = None,
    *,
    fusion: Fusion | None = None,
) -> Match | None:
    """Return the best match of the assessed candidates, or None for a new story."""
    best: Match | None = None
    for item in assessments:
        if item.match is not None and (best is None or _rank(item.match) > _rank(best)):
            best = item.match
    return best or _translation(assessments, fusion or load_fusion())


def signals(assessments: Sequence[Assessment]) -> list[tuple[Candidate, dict[str, Any]]]:
    """Return each translation candidate with its signals (`fusion.FEATURES`) and evidence.

    The margins compare a candidate with the best candidate of another story.
    """
    weighed = [(a.candidate, a.evidence) for a in assessments if a.evidence is not None]
    found = []
    for candidate, evidence in weighed:
        others = [e for c, e in weighed if c.story_id != candidate.story_id]
        features = dict(evidence["signals"])
        best_score = max((float(e["score"]) for e in others), default=0.0)
        features["score_margin"] = float(evidence["score"]) - best_score
        cosine = evidence.get("cosine")
        if cosine is not None:
            best_cosine = max(
                (float(e["cosine"]) for e in others if e.get("cosine") is not None), default=0.0
            )
            features["cosine"] = float(cosine)
            features["cosine_margin"] = float(cosine) - best_cosine
        found.append((candidate, {"features": features, "evidence": evidence}))
    return found


def passes_gates(features: dict[str, float], evidence: dict[str, Any]) -> bool:
    """Return whether a pair has enough specific facts, beyond the calendar, in more than one place.

    Always an offline score of `MIN_OFFLINE_SCORE`: most of what the two
    texts state is shared.
    Without vectors, facts of two kinds, numbers, dates or entities among
    them, or several specific numbers, dates or entities, or a long chain
    of words in the same order through both texts: never a few names. With
    vectors, the embedding and specific facts, at least one kind weighing
    `KIND_WEIGHT`: numbers, dates or entities, or two names or more, or a
    long chain of words in order (a short article may state no number).
    Never facts that all sit in one passage of both texts.
    """
    if features["offline_score"] < MIN_OFFLINE_SCORE:
        return False
    if (
        evidence["placed"] >= ONE_PASSAGE_ITEMS
        and features["spread"] < MIN_SPREAD
        and evidence["unshared_elsewhere"] >= 1
    ):
        return False
    if "cosine" in features:
        if sum(evidence["weights"].values()) < MIN_SPECIFIC or features["kinds"] < 1:
            return False
        return (
            evidence["facts_weight"] >= MIN_FACTS
            or evidence["specific_names"] >= SEVERAL_NAMES
            or _structure_aligned(features, evidence)
        )
    if _structure_aligned(features, evidence):
        return True
    if evidence["facts_weight"] < MIN_FACTS:
        return False
    return features["kinds"] >= MIN_KINDS_OFFLINE or evidence["facts_weight"] >= SEVERAL_FACTS


def _structure_aligned(features: dict[str, float], evidence: dict[str, Any]) -> bool:
    return evidence["aligned_words"] >= ALIGNED_WORDS and features["spread"] >= ALIGNED_SPREAD


def _translation(assessments: Sequence[Assessment], fusion: Fusion) -> Match | None:
    """Return the most probable translation if it passes the gates, threshold and margin.

    A rival of another story that is itself the winner's article (a
    translation of it that ended in a story of its own) is no rival. The
    winner must also be mutually best: when its story holds a document in
    the new document's language, the new one must fit the winner about as
    well as that document does.
    """
    scored = []
    for candidate, found in signals(assessments):
        features, evidence = found["features"], found["evidence"]
        model = fusion.model("cosine" in features)
        scored.append((model.logit(features), candidate, features, evidence, model))
    eligible = [item for item in scored if passes_gates(item[2], item[3])]
    if not eligible:
        return None
    logit, best, features, evidence, model = max(
        eligible, key=lambda item: (item[0], tuple(-ord(c) for c in item[1].document_id))
    )
    probability = model.probability(features)
    if probability < model.threshold:
        return None
    frequencies = assessments[0].frequencies
    rivals = sorted(
        (item for item in scored if item[1].story_id != best.story_id),
        key=lambda item: -item[0],
    )
    runner = None
    for checked, rival in enumerate(rivals):
        if logit - rival[0] >= MARGIN:
            break
        same = None
        if checked < RIVALS_CHECKED:
            same = _pair_logit(rival[1], best, fusion, frequencies)
        if same is None or same < fusion.model(_both_vectors(rival[1], best)).logit_threshold:
            runner = rival
            break
    if runner is not None:
        return None
    own = [
        a.candidate
        for a in assessments
        if a.evidence is None and a.match is None and a.candidate.story_id == best.story_id
    ]
    mine = model.logit({**features, "score_margin": 0.0, "cosine_margin": 0.0})
    for member in own[:RIVALS_CHECKED]:
        theirs = _pair_logit(member, best, fusion, frequencies)
        if theirs is not None and theirs - mine > MUTUAL_SLACK:
            return None
    runner_up = rivals[0] if rivals else None
    recorded = {
        **evidence,
        "model": model.name,
        "probability": round(probability, 4),
        "signals": {k: round(float(v), 4) for k, v in features.items()},
        "runner_up": None
        if runner_up is None
        else {
            "document_id": runner_up[1].document_id,
            "probability": round(runner_up[4].probability(runner_up[2]), 4),
        },
    }
    return _match(best, TRANSLATION, probability, recorded)


def _both_vectors(a: Candidate, b: Candidate) -> bool:
    return a.vector is not None and b.vector is not None


def _pair_logit(
    a: Candidate, b: Candidate, fusion: Fusion, frequencies: Frequencies
) -> float | None:
    """Return the log-odds that two stored documents are one article, margins aside.

    None when they are in one language or a gate fails.
    """
    if _same_language(a.language, b.language):
        return None
    evidence = translation_evidence(
        Side(a.fingerprint.data),
        Side(b.fingerprint.data),
        a.language,
        b.language,
        a.published_at,
        b.published_at,
        Thresholds(),
        frequencies=frequencies,
    )
    features = {**evidence["signals"], "score_margin": 0.0}
    if a.vector is not None and b.vector is not None:
        features["cosine"] = float(np.dot(a.vector, b.vector))
        features["cosine_margin"] = 0.0
    if not passes_gates(features, evidence):
        return None
    return fusion.model("cosine" in features).logit(features)


def _rank(match: Match) -> tuple[int, float, tuple[int, ...]]:
    return (
        _PRIORITY[match.relation],
        round(match.score, 6),
        tuple(-ord(c) for c in match.document_id),
    )


@dataclass(frozen=True)
class _Context:
    vector: np.ndarray | None
    frequencies: Frequencies


def _assess(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidate: Candidate,
    thresholds: Thresholds,
    mine: Side,
    context: _Context,
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
        frequencies=context.frequencies,
    )
    if context.vector is not None and candidate.vector is not None:
        evidence["cosine"] = round(float(np.dot(context.vector, candidate.vector)), 4)
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
    *,
    frequencies: Frequencies = NO_FREQUENCIES,
) -> dict[str, Any]:
    """Return the translation score of two documents and what it rests on.

    Symmetric in its two documents. The result is JSON-serializable and has
    `score`, `strength` (total prior weight of the shared evidence),
    `weights` (each shared fact's weight after specificity), `facts_weight`
    (their total over numbers, dates and entities) and `signals` (the
    model's features of the pair alone; `signals` adds the margins).
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
    reference = reference_date(published_at, other_published_at)
    country_names = _country_names(data, other, shared["entities"])
    weights: dict[str, float] = {}
    by_kind: dict[str, float] = {}
    for p, q in matched:
        key = p if len(p) <= len(q) else q
        weight = min(fact_weight(p, frequencies, reference), fact_weight(q, frequencies, reference))
        weights[key] = round(weight, 3)
        # A country says where, not which article: its id and its name
        # count in the score, not as a specific fact.
        if not key.startswith(_COUNTRY) and (key[0] != "s" or key not in country_names):
            kind = _KINDS[key[0]]
            by_kind[kind] = by_kind.get(kind, 0.0) + weight
    specific = sum(weights.values())
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
        "weights": weights,
        "placed": len(placed),
        "specific_names": sum(
            1 for key in weights if key.startswith("s:") and key not in country_names
        ),
        "unshared_elsewhere": _unshared_elsewhere(side, other_side, matched),
        "facts_weight": round(sum(w for kind, w in by_kind.items() if kind != "names"), 3),
        "signals": {
            "offline_score": score,
            "specific": math.log1p(specific),
            "kinds": float(sum(w >= KIND_WEIGHT for w in by_kind.values())),
            "order": order,
            "misfit": min(misfit, 3.0),
            "aligned": math.log1p(len(aligned)),
            "spread": _spread(placed),
        },
    }
    return evidence


def _unshared_elsewhere(side: Side, other_side: Side, matched: list[tuple[str, str]]) -> int:
    """Return the fewer, of the two texts, of facts outside the shared items' span and unshared."""
    counts = []
    for this, keys in ((side, {p for p, _ in matched}), (other_side, {q for _, q in matched})):
        spots = [this.ev[k] for k in keys if this.ev.get(k, -1) >= 0]
        if not spots:
            return 0
        low, high = min(spots) - MIN_SPREAD, max(spots) + MIN_SPREAD
        counts.append(
            sum(
                1
                for key in this.facts
                if key not in keys
                and not low <= this.ev.get(key, -1) <= high
                and this.ev.get(key, -1) >= 0
            )
        )
    return min(counts)


_COUNTRY = "t:country:"


def _country_names(data: dict[str, Any], other: dict[str, Any], entities: list[str]) -> set[str]:
    """Return the name keys whose surface is the name of a shared country."""
    countries = {k for k in entities if k.startswith(_COUNTRY)}
    if not countries:
        return set()
    found = set()
    for surfaces in (data.get("sf") or {}, other.get("sf") or {}):
        for skeleton, surface in surfaces.items():
            code = _country_code(str(surface))
            if code and f"{_COUNTRY}{code}" in countries:
                found.add(f"s:{skeleton}")
    return found


@functools.lru_cache(maxsize=4096)
def _country_code(name: str) -> str | None:
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        return None


def _spread(placed: list[tuple[float, float]]) -> float:
    """Return how much of both texts the shared items span (0 for one passage)."""
    if len(placed) < 2:
        return 0.0
    xs, ys = [x for x, _ in placed], [y for _, y in placed]
    return min(max(xs) - min(xs), max(ys) - min(ys))


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
