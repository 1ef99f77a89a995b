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
                     the pair shares with a weight of at least
                     `matching.score.KIND_WEIGHT`;
  ``order``          the share of shared items at the same relative position;
  ``misfit``         |log| of the length ratio over the languages' usual one;
  ``aligned``        log(1 + words of a chain of word skeletons in order);
  ``spread``         the share of both texts that the shared items span: a
                     translation's facts run through the article, a passage
                     quoted or translated into another article is one place;
  ``mirrored``       how closely the two texts' paragraphs line up: as many
                     (four or more, the title counted), starting at about
                     the same relative offsets (`mirrored_paragraphs` in
                     `matching/score.py`): a translation keeps its
                     original's paragraphs, another outlet's article does not;
  ``unmirrored``     1 when both texts have four paragraphs or more and they
                     do not line up; a text posted without its paragraphs
                     counts neither way;
  ``score_margin``   the offline score over the best of another story's;
  ``cosine``         the embedding cosine (with vectors on both sides);
  ``cosine_margin``  the cosine over the best of another story's.

  Embeddings see the event rather than the article (another outlet's report
  of the same event is as close as a translation), so the article-level
  signals (order, facts, length, paragraphs) carry the decision with them.
  Gates come before the model: no link on names alone or on the calendar
  alone (the shared numbers, dates and entities must weigh `MIN_FACTS`
  after specificity, unless the texts keep one structure: `passes_gates`),
  and without vectors the shared facts must be of two kinds.
  The most probable candidate wins when it reaches the model's threshold
  and its log-odds exceed those of every candidate of another story by
  `MARGIN`. The evidence of a link lists the signals, each shared fact's
  weight, the probability and the runner-up. A page without an article is
  never weighed (`processing`): it is no candidate and has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from services.pipeline.containment import measure_containment
from services.pipeline.fingerprint import Fingerprint
from services.pipeline.fusion import Fusion, load_fusion
from services.pipeline.matching.score import (
    MIN_SPREAD,
    Party,
    Side,
    mirrored_paragraphs,
    near_evidence,
    translation_evidence,
)
from services.pipeline.specificity import NO_FREQUENCIES, Frequencies

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
    near_contained: float = 0.5
    near_contained_sample: int = 20
    position_tolerance: float = 0.15


# Gates of the translation decision (module docstring). The offline score
# is mostly coverage: two articles built from some of the same material
# share many names and words but a small part of all they state.
MIN_OFFLINE_SCORE = 0.25
# A number of four or more digits (prior weight 3) seen in a fifth of the
# window still weighs about 1.2; the current year weighs 0.1.
MIN_FACTS = 1.0
MIN_KINDS_OFFLINE = 2
# Or, of one kind, numbers, dates and entities weighing this much together:
# several specific facts (where names do not transliterate, as from Han).
SEVERAL_FACTS = 4.0
# Or the text's structure: this many word skeletons (names, loanwords,
# terms) in the same order through both texts, spanning this much of them.
ALIGNED_WORDS = 10
ALIGNED_SPREAD = 0.3
# With vectors, or the paragraphs: as many, each starting within half the
# tolerance of `matching.score.mirrored_paragraphs` (`mirrored` at least this).
MIRRORED = 0.5
MIN_SPECIFIC = 1.0
# With vectors and no specific number, date or entity: this many names.
SEVERAL_NAMES = 2
# Shared items, this many or more, that all sit in one passage of both texts
# (spanning less than MIN_SPREAD of each) while both texts state other facts
# elsewhere that the other lacks: a caption or quote carried into another
# article, not a translation of the article.
ONE_PASSAGE_ITEMS = 3
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
    # The weighing document's paragraph starts (fingerprint data `par`).
    paragraphs: tuple[float, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Context:
    """What is known around the document besides its fingerprint.

    `vector`: its embedding, when it has one; `frequencies`: the fact
    document frequencies of the window (none: every fact is rare).
    """

    vector: np.ndarray | None = None
    frequencies: Frequencies = NO_FREQUENCIES


def decide(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    thresholds: Thresholds | None = None,
    context: Context | None = None,
) -> Match | None:
    """Return the best match among the candidates, or None for a new story.

    Pure and deterministic: an exact duplicate beats a near duplicate beats a
    translation, then the higher score, then the smaller document id.
    """
    thresholds = thresholds or Thresholds()
    return conclude(
        assess(
            fingerprint, language, published_at, candidates, thresholds=thresholds, context=context
        ),
        thresholds,
    )


def assess(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    thresholds: Thresholds | None = None,
    context: Context | None = None,
) -> list[Assessment]:
    """Weigh each candidate on its own; `conclude` then picks the match.

    Assessments of more candidates can be added later without weighing the
    first ones again.
    """
    if not candidates:
        return []
    thresholds = thresholds or Thresholds()
    context = context or Context()
    mine = _Mine(fingerprint.side, context.vector, context.frequencies)
    paragraphs = tuple(fingerprint.data.get("par") or ())
    return [
        Assessment(
            candidate,
            *_assess(fingerprint, language, published_at, candidate, thresholds, mine),
            context.frequencies,
            paragraphs,
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

    The margins compare a candidate with the best candidate of another
    article: of another story, and without the candidate's paragraphs (a
    translation of one original that ended in a story of its own is the
    same article).
    """
    weighed = [(a.candidate, a.evidence) for a in assessments if a.evidence is not None]
    by_score = sorted(weighed, key=lambda item: -float(item[1]["score"]))
    by_cosine = sorted(
        (item for item in weighed if item[1].get("cosine") is not None),
        key=lambda item: -float(item[1]["cosine"]),
    )
    found = []
    for candidate, evidence in weighed:
        features = dict(evidence["signals"])
        best_score = _best_of_another_article(candidate, by_score, "score")
        features["score_margin"] = float(evidence["score"]) - best_score
        cosine = evidence.get("cosine")
        if cosine is not None:
            features["cosine"] = float(cosine)
            features["cosine_margin"] = float(cosine) - _best_of_another_article(
                candidate, by_cosine, "cosine"
            )
        found.append((candidate, {"features": features, "evidence": evidence}))
    return found


def _best_of_another_article(
    candidate: Candidate, ranked: Sequence[tuple[Candidate, dict[str, Any]]], key: str
) -> float:
    """Return the highest `key` of the candidates of another article, best first in `ranked`."""
    for other, evidence in ranked:
        if other.story_id != candidate.story_id and not _same_paragraphs(_starts(candidate), other):
            return float(evidence[key])
    return 0.0


def _starts(candidate: Candidate) -> Sequence[float]:
    return candidate.fingerprint.data.get("par") or ()


def _same_paragraphs(starts: Sequence[float], other: Candidate) -> bool:
    """Return whether `other` has as many paragraphs as `starts`, starting at the same places."""
    return mirrored_paragraphs(starts, _starts(other)) >= MIRRORED


def passes_gates(features: dict[str, float], evidence: dict[str, Any]) -> bool:
    """Return whether a pair has enough specific facts, beyond the calendar, in more than one place.

    Always an offline score of `MIN_OFFLINE_SCORE`: most of what the two
    texts state is shared.
    Without vectors, facts of two kinds, numbers, dates or entities among
    them, or several specific numbers, dates or entities, or a long chain
    of words in the same order through both texts: never a few names. With
    vectors, the embedding and the article's paragraphs (as many, starting
    at the same places), or the embedding and specific facts, at least one
    kind weighing `KIND_WEIGHT`: numbers, dates or entities, or two names
    or more, or a long chain of words in order (a short article may state
    no number).
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
        if features["mirrored"] >= MIRRORED:
            return True
        if sum(evidence["weights"].values()) < MIN_SPECIFIC or features["kinds"] < 1:
            return False
        return (
            evidence["facts_weight"] >= MIN_FACTS
            or evidence["specific_names"] >= SEVERAL_NAMES
            or _structure_aligned(evidence)
        )
    if _structure_aligned(evidence):
        return True
    if evidence["facts_weight"] < MIN_FACTS:
        return False
    return features["kinds"] >= MIN_KINDS_OFFLINE or evidence["facts_weight"] >= SEVERAL_FACTS


def _structure_aligned(evidence: dict[str, Any]) -> bool:
    return (
        evidence["aligned_words"] >= ALIGNED_WORDS and evidence["aligned_spread"] >= ALIGNED_SPREAD
    )


def _translation(assessments: Sequence[Assessment], fusion: Fusion) -> Match | None:
    """Return the most probable translation if it passes the gates, threshold and margin.

    A rival of another story that is itself the winner's article (a
    translation of it that ended in a story of its own: `_one_article`) is
    no rival. The winner must also be mutually best: when its story holds a
    document in the new document's language, the new one must fit the
    winner about as well as that document does, unless the two have the
    same paragraphs (two translations of one original).
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
        if checked >= RIVALS_CHECKED or not _one_article(rival[1], best, fusion, frequencies):
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
    paragraphs = assessments[0].paragraphs
    for member in own[:RIVALS_CHECKED]:
        if _same_paragraphs(paragraphs, member):
            continue
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


def _one_article(a: Candidate, b: Candidate, fusion: Fusion, frequencies: Frequencies) -> bool:
    """Return whether two stored documents of two stories are one article.

    Either the pair passes as a translation, or the two have the same
    paragraphs: as many, starting at the same places.
    """
    if _same_paragraphs(_starts(a), b):
        return True
    same = _pair_logit(a, b, fusion, frequencies)
    return same is not None and same >= fusion.model(_both_vectors(a, b)).logit_threshold


def _pair_logit(
    a: Candidate, b: Candidate, fusion: Fusion, frequencies: Frequencies
) -> float | None:
    """Return the log-odds that two stored documents are one article, margins aside.

    None when they are in one language or a gate fails.
    """
    if _same_language(a.language, b.language):
        return None
    evidence = translation_evidence(
        Party(a.fingerprint.side, a.language, a.published_at),
        Party(b.fingerprint.side, b.language, b.published_at),
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
class _Mine:
    side: Side
    vector: np.ndarray | None
    frequencies: Frequencies


def _assess(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidate: Candidate,
    thresholds: Thresholds,
    context: _Mine,
) -> tuple[Match | None, dict[str, Any] | None]:
    """Return the match to one candidate, if any, and the translation evidence."""
    other = candidate.fingerprint
    if other.content_hash == fingerprint.content_hash:
        return _match(candidate, EXACT, 1.0, {"content_hash": fingerprint.content_hash}), None
    mine, theirs = context.side, other.side
    near = _near(mine, theirs, _same_language(language, candidate.language), thresholds)
    if near is not None:
        return _match(candidate, NEAR, near[0], near[1]), None
    if _same_language(language, candidate.language):
        return None, None
    if language.lower() in _UNDETERMINED or candidate.language.lower() in _UNDETERMINED:
        return None, None
    evidence = translation_evidence(
        Party(mine, language, published_at),
        Party(theirs, candidate.language, candidate.published_at),
        position_tolerance=thresholds.position_tolerance,
        frequencies=context.frequencies,
    )
    if context.vector is not None and candidate.vector is not None:
        evidence["cosine"] = round(float(np.dot(context.vector, candidate.vector)), 4)
    return None, evidence


def _near(
    mine: Side, theirs: Side, same_language: bool, thresholds: Thresholds
) -> tuple[float, dict[str, Any]] | None:
    """Return the near-duplicate score and evidence of two documents, or None."""
    near = near_evidence(mine, theirs)
    jaccard, containment = near["jaccard"], near["containment"]
    # Shingles are words of one language: texts that share half of them are
    # in one language whatever the detector said.
    if jaccard >= thresholds.near_jaccard or (
        same_language
        and containment >= thresholds.near_containment
        and jaccard >= thresholds.near_min_jaccard
    ):
        return jaccard, near
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
        return contained.value, {**near, **contained.to_json(), "rule": "containment"}
    return None


def _match(candidate: Candidate, relation: str, score: float, evidence: dict[str, Any]) -> Match:
    return Match(candidate.document_id, candidate.story_id, relation, round(score, 4), evidence)


def _same_language(a: str, b: str) -> bool:
    return a.split("-", maxsplit=1)[0].lower() == b.split("-", maxsplit=1)[0].lower()
