"""Link a story to other coverage of its event: different articles, kept apart.

Two outlets reporting one event write two articles: matching keeps them two
stories (a false merge hides an article). What they share is worth showing
all the same, so media monitors can count coverage per event: a `related`
link between the two stories, with its score and evidence.

`find_related` looks at the candidates the matcher weighed for a document
and did not merge it with, and describes each pair by the signals of
`FEATURES`:

- `facts`, `kinds`: the specific facts both state (names, as skeletons of
  four letters in scripts with letter case; entity ids other than
  countries; numbers of at least 100 or with decimals; days of a month
  other than those around either publication) and how many kinds;
- `log_weight`: log(1 + their weight), each fact weighed by how rare it is
  among the documents stored around the same time
  (`specificity.fact_weight`): "2020" in news of 2020 weighs next to nothing;
- `word_overlap`: the share of the smaller text's long words (the
  fingerprint's `lx` skeletons) the other has;
- `cosine`: the embedding cosine, when both have a vector.

A logistic model turns them into the probability that people would rate
the two stories similar; the pair is linked at or above the model's
threshold, and that probability is the link's score. `python -m bench.fit`
fits both models (with and without a cosine) on the rated pairs of
same-event-dev and writes `related.toml` beside this module. Nothing here
is set by hand but which facts count.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.pipeline.dedup import Candidate
from services.pipeline.fingerprint import Fingerprint
from services.pipeline.fusion import (
    EMBEDDINGS,
    OFFLINE,
    Fusion,
    Model,
    parse_fusion,
    read_packaged,
)
from services.pipeline.matching.evidence import evidence_weight
from services.pipeline.matching.score import Side
from services.pipeline.specificity import NO_FREQUENCIES, Frequencies, fact_weight, reference_date

RELATED = "related"
_KINDS = {"s": "names", "t": "entities", "n": "numbers", "d": "dates"}

OFFLINE_FEATURES = ("facts", "kinds", "log_weight", "word_overlap")
EMBEDDING_FEATURES = (*OFFLINE_FEATURES, "cosine")
FEATURES = {OFFLINE: OFFLINE_FEATURES, EMBEDDINGS: EMBEDDING_FEATURES}


# A fact counts when its prior weight (`matching.evidence.evidence_weight`) is at least this.
SPECIFIC_WEIGHT = 2.0
# Days of a month this close to either publication date are no evidence.
DATE_WINDOW_DAYS = 3
MAX_LINKS = 10


@dataclass(frozen=True)
class RelatedLink:
    """A candidate's story that covers the same event, with the facts that say so."""

    story_id: str
    document_id: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Signals:
    """One candidate described for the model: its features and the facts behind them."""

    candidate: Candidate
    features: dict[str, float]
    weights: dict[str, float]


@dataclass(frozen=True)
class _Prepared:
    """What a comparison reads of one document: its specific facts, long words and language."""

    facts: frozenset[str]
    words: frozenset[str]
    language: str


def parse_related(text: str) -> Fusion:
    """Build the two related-coverage models from the text of a related.toml file."""
    return parse_fusion(text, FEATURES)


@functools.cache
def load_related() -> Fusion:
    """Read the packaged related.toml once per process."""
    return read_packaged("related.toml", FEATURES)


def find_related(
    fingerprint: Fingerprint,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    story_id: str | None = None,
    cosines: Mapping[str, float] | None = None,
    frequencies: Frequencies = NO_FREQUENCIES,
) -> list[RelatedLink]:
    """Return the candidates' stories that cover the document's event, best first.

    Pure and deterministic. Candidates of `story_id` (the story the document
    joined or started) are skipped. `cosines`: an embedding cosine by
    candidate document id, where known; `frequencies`: the fact document
    frequencies of the window. Decided by the fitted models (`related.toml`).
    """
    found = related_signals(
        fingerprint,
        published_at,
        candidates,
        story_id=story_id,
        cosines=cosines,
        frequencies=frequencies,
    )
    return choose_links(found, load_related())


def choose_links(signals: Sequence[Signals], models: Fusion) -> list[RelatedLink]:
    """Return the links the models make of the candidates' signals, best first.

    One link per story, its best candidate's; at most `MAX_LINKS`.
    """
    best: dict[str, RelatedLink] = {}
    for found in signals:
        link = _decide(found, models.model("cosine" in found.features))
        if link is None:
            continue
        known = best.get(link.story_id)
        if known is None or (link.score, known.document_id) > (known.score, link.document_id):
            best[link.story_id] = link
    ranked = sorted(best.values(), key=lambda link: (-link.score, link.story_id))
    return ranked[:MAX_LINKS]


def related_signals(
    fingerprint: Fingerprint,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
    *,
    story_id: str | None = None,
    cosines: Mapping[str, float] | None = None,
    frequencies: Frequencies = NO_FREQUENCIES,
) -> list[Signals]:
    """Return the signals of each candidate of another story than `story_id`."""
    mine = fingerprint.side
    prepared = _Prepared(_specific(mine, published_at), frozenset(mine.words), _language(mine.data))
    found = []
    for candidate in candidates:
        if candidate.story_id == story_id:
            continue
        other = _prepared(candidate)
        reference = reference_date(published_at, candidate.published_at)
        weights = {
            k: fact_weight(k, frequencies, reference)
            for k in sorted(prepared.facts & other.facts)
            if _date_ok(k, published_at)
        }
        features = {
            "facts": float(len(weights)),
            "kinds": float(len({k[:1] for k in weights})),
            "log_weight": math.log1p(sum(weights.values())),
            "word_overlap": _overlap(prepared.words, other.words),
        }
        cosine = (cosines or {}).get(candidate.document_id)
        if cosine is not None:
            features["cosine"] = float(cosine)
        found.append(Signals(candidate, features, weights))
    return found


def _decide(found: Signals, model: Model) -> RelatedLink | None:
    """Return the link the model makes of one candidate's signals, or None."""
    probability = model.probability(found.features)
    if probability < model.threshold:
        return None
    weights = found.weights
    evidence: dict[str, Any] = {
        "relation": RELATED,
        "model": model.name,
        "probability": round(probability, 4),
        "signals": {k: round(v, 4) for k, v in found.features.items()},
        "facts": len(weights),
        "weight": round(sum(weights.values()), 2),
        "weights": {k: round(w, 3) for k, w in weights.items()},
        **{name: [k[2:] for k in weights if k[:1] == kind] for kind, name in _KINDS.items()},
    }
    candidate = found.candidate
    return RelatedLink(candidate.story_id, candidate.document_id, round(probability, 4), evidence)


def _language(data: Mapping[str, Any]) -> str:
    return str(data.get("lang") or "").split("-", maxsplit=1)[0].lower()


def _overlap(mine: frozenset[str], theirs: frozenset[str]) -> float:
    """Return the share of the smaller text's distinct long-word skeletons the other has."""
    return len(mine & theirs) / min(len(mine), len(theirs)) if mine and theirs else 0.0


# What `related_signals` reads of a candidate, by document id: a stored document's
# fingerprint never changes, and the same recent documents are candidates
# of document after document. Bounded; each entry is a few kB.
_PREPARED: OrderedDict[str, _Prepared] = OrderedDict()
_PREPARED_SIZE = 4096


def _prepared(candidate: Candidate) -> _Prepared:
    key = candidate.document_id
    found = _PREPARED.get(key)
    if found is not None:
        _PREPARED.move_to_end(key)
        return found
    side = candidate.fingerprint.side
    found = _Prepared(
        _specific(side, candidate.published_at),
        frozenset(side.words),
        _language(side.data),
    )
    _PREPARED[key] = found
    while len(_PREPARED) > _PREPARED_SIZE:
        _PREPARED.popitem(last=False)
    return found


def _specific(side: Side, published_at: datetime | None) -> frozenset[str]:
    """Return the document's specific facts.

    Without letter case every word yields a "name": only dates, numbers and
    entities then count.
    """
    found = set()
    for kind in _KINDS:
        if kind == "s" and not side.cased:
            continue
        for key in side.groups[kind]:
            if evidence_weight(key) < SPECIFIC_WEIGHT:
                continue
            if kind == "t" and key.startswith("t:country:"):
                continue
            if _date_ok(key, published_at):
                found.add(key)
    return frozenset(found)


def _date_ok(key: str, published_at: datetime | None) -> bool:
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
        if abs(moment - published_at) <= timedelta(days=DATE_WINDOW_DAYS):
            return False
    return True
