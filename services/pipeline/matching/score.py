"""Compare two documents' fingerprint data: the near-duplicate and translation evidence.

`dedup` decides on these figures; see its docstring for the score. Weights
come from `matching.evidence.evidence_weight`.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pycountry

from services.pipeline.containment import decode as decode_sketch
from services.pipeline.matching.evidence import evidence_weight
from services.pipeline.matching.lexicon import length_factor
from services.pipeline.matching.minhash import decode_signature
from services.pipeline.specificity import NO_FREQUENCIES, Frequencies, fact_weight, reference_date


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
# A kind of fact (numbers, dates, names, entities) counts in the `kinds`
# signal when its shared facts weigh this much after specificity.
KIND_WEIGHT = 1.0
# Shared items within this much of each other sit in one passage.
MIN_SPREAD = 0.05
# A translation keeps its original's paragraphs, their lengths in proportion:
# with at least this many (the title counts as one), the same number of
# paragraphs starting at about the same relative offsets is the article's
# structure, which another outlet's report of the event does not share.
MIN_PARAGRAPHS = 4
PARAGRAPH_TOLERANCE = 0.1
_COUNTRY = "t:country:"


class Side:
    """One document's fingerprint data, prepared once for every comparison it takes part in.

    What `decide` would otherwise derive again for each of some fifty
    candidates: the decoded MinHash signature and containment sketch, the evidence keys by kind
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
    def names(self) -> list[str]:
        return sorted(self.groups["s"])

    @functools.cached_property
    def short_names(self) -> list[str]:
        return [key for key in self.names if len(key) == 5]

    @functools.cached_property
    def country_names(self) -> dict[str, set[str]]:
        """The name keys whose surface is a country's name, by the country's entity key."""
        found: dict[str, set[str]] = {}
        for skeleton, surface in (self.data.get("sf") or {}).items():
            code = _country_code(str(surface))
            if code:
                found.setdefault(f"{_COUNTRY}{code}", set()).add(f"s:{skeleton}")
        return found

    @functools.cached_property
    def facts_weight(self) -> float:
        return self.weights["n"] + self.weights["d"] + self.weights["m"]

    @functools.cached_property
    def words(self) -> list[str]:
        return str(self.data.get("lx", "")).split()

    @functools.cached_property
    def where(self) -> dict[str, float]:
        return {word: i / len(self.words) for i, word in enumerate(self.words)}


@dataclass(frozen=True)
class Party:
    """One side of a comparison: its prepared data, language and publication time."""

    side: Side
    language: str
    published_at: datetime | None


def translation_evidence(
    mine: Party,
    theirs: Party,
    *,
    position_tolerance: float = 0.15,
    frequencies: Frequencies = NO_FREQUENCIES,
) -> dict[str, Any]:
    """Return the translation score of two documents and what it rests on.

    Symmetric in its two documents. The result is JSON-serializable and has
    `score`, `strength` (total prior weight of the shared evidence),
    `weights` (each shared fact's weight after specificity), `facts_weight`
    (their total over numbers, dates and entities) and `signals` (the
    model's features of the pair alone; `dedup.signals` adds the margins).
    `position_tolerance`: how far apart (relative position) shared items may
    sit and still count as in the same order; `frequencies`: the fact
    document frequencies of the window (none: every fact is rare).
    """
    side, other_side = mine.side, theirs.side
    data, other = side.data, other_side.data
    shared_weight, coverage, shared, matched = _coverage(side, other_side)
    facts = _facts_fit(side, other_side)
    aligned, lexical, aligned_spread = _align(side.words, other_side.words, other_side.where)
    placed = [
        (side.ev[p], other_side.ev[q])
        for p, q in matched
        if side.ev[p] >= 0 and other_side.ev[q] >= 0
    ]
    order = _order(placed, position_tolerance)
    length_ratio = _length_ratio(data, other, mine.language, theirs.language)
    misfit = abs(math.log(length_ratio)) if length_ratio > 0 else 9.0
    length_fit = 1.0 if misfit <= 0.4 else max(0.0, 1.0 - (misfit - 0.4) / 0.6)
    hours = _hours_apart(mine.published_at, theirs.published_at)
    time_fit = 1.0
    if hours is not None and hours > 72:
        time_fit = 0.85 if hours <= 24 * 14 else 0.6

    score = coverage * (0.4 + 0.6 * order) * length_fit * time_fit * facts
    specific = _specific(mine, theirs, matched, shared["entities"], frequencies)
    evidence: dict[str, Any] = {
        "score": round(score, 4),
        "strength": round(shared_weight + LEXICAL_WEIGHT * len(aligned), 2),
        "aligned_words": len(aligned),
        "aligned_spread": round(aligned_spread, 4),
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
        "passages": _passages(matched, side.ev, other_side.ev, data, other),
        "weights": specific["weights"],
        "placed": len(placed),
        "specific_names": specific["names"],
        "unshared_elsewhere": _unshared_elsewhere(side, other_side, matched),
        "facts_weight": specific["facts_weight"],
        "signals": {
            "offline_score": score,
            "specific": math.log1p(sum(specific["weights"].values())),
            "kinds": specific["kinds"],
            "order": order,
            "misfit": min(misfit, 3.0),
            "aligned": math.log1p(len(aligned)),
            "spread": _spread(placed),
            **_paragraph_signals(data.get("par") or [], other.get("par") or []),
        },
    }
    return evidence


def _specific(
    mine: Party,
    theirs: Party,
    matched: list[tuple[str, str]],
    entities: list[str],
    frequencies: Frequencies,
) -> dict[str, Any]:
    """Return each shared fact's weight after specificity, and their totals by kind.

    `weights`: key to weight; `facts_weight`: the total over numbers, dates
    and entities; `kinds`: how many kinds weigh `KIND_WEIGHT`; `names`: the
    shared names that are not a shared country's name.
    """
    reference = reference_date(mine.published_at, theirs.published_at)
    country_names = _country_names(mine.side, theirs.side, entities)
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
    return {
        "weights": weights,
        "facts_weight": round(sum(w for kind, w in by_kind.items() if kind != "names"), 3),
        "kinds": float(sum(w >= KIND_WEIGHT for w in by_kind.values())),
        "names": sum(1 for key in weights if key.startswith("s:") and key not in country_names),
    }


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


def _country_names(side: Side, other_side: Side, entities: list[str]) -> set[str]:
    """Return the name keys whose surface is the name of a shared country."""
    found: set[str] = set()
    for key in entities:
        if key.startswith(_COUNTRY):
            found |= side.country_names.get(key, set()) | other_side.country_names.get(key, set())
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


def mirrored_paragraphs(starts: Sequence[float], other_starts: Sequence[float]) -> float:
    """Return how closely two texts' paragraphs line up: 1 for the same relative starts.

    0 for a different number of paragraphs, fewer than `MIN_PARAGRAPHS`, or
    a paragraph starting `PARAGRAPH_TOLERANCE` or more apart.
    """
    if len(starts) != len(other_starts) or len(starts) < MIN_PARAGRAPHS:
        return 0.0
    worst = max(abs(a - b) for a, b in zip(starts, other_starts, strict=True))
    return max(0.0, 1.0 - worst / PARAGRAPH_TOLERANCE)


def _paragraph_signals(starts: Sequence[float], other_starts: Sequence[float]) -> dict[str, float]:
    """Return `mirrored`, and `unmirrored`: 1 when both have paragraphs that do not line up.

    A text posted without its paragraphs (fewer than `MIN_PARAGRAPHS`) is
    neither: it says nothing either way.
    """
    mirrored = mirrored_paragraphs(starts, other_starts)
    known = min(len(starts), len(other_starts)) >= MIN_PARAGRAPHS
    return {"mirrored": mirrored, "unmirrored": float(known and mirrored == 0.0)}


def _coverage(
    side: Side, other_side: Side
) -> tuple[float, float, dict[str, list[str]], list[tuple[str, str]]]:
    """Return (shared weight, coverage, shared keys by kind, matched key pairs)."""
    cased, other_cased = side.cased, other_side.cased
    shared_weight = denominator = 0.0
    shared: dict[str, list[str]] = {name: [] for name in ("dates", "numbers", "names", "entities")}
    matched: list[tuple[str, str]] = []
    for kind, name in _KINDS.items():
        if kind == "s" and not (cased or other_cased):
            continue
        a, b = side.groups[kind], other_side.groups[kind]
        pairs = [(k, k) for k in sorted(a & b)]
        weight_a, weight_b = side.weights[kind], other_side.weights[kind]
        if kind == "s":
            pairs += _prefix_matches(side, other_side)
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
    return shared_weight, coverage, shared, matched


def _order(placed: list[tuple[float, float]], tolerance: float) -> float:
    """Return the share of placed shared items at about the same position (0.5 for few)."""
    if len(placed) < 3:
        return 0.5
    return sum(abs(x - y) <= tolerance for x, y in placed) / len(placed)


def _hours_apart(
    published_at: datetime | None, other_published_at: datetime | None
) -> float | None:
    if published_at is None or other_published_at is None:
        return None
    try:
        return abs((published_at - other_published_at).total_seconds()) / 3600
    except TypeError:
        return None


def lexical_alignment(mine: str, theirs: str) -> tuple[list[str], float]:
    """Return the word skeletons both texts have in the same order, and their share.

    Translations keep loanwords, names and terms in about the same order; two
    articles on one topic share some but scattered. The aligned words are the
    longest chain of shared skeletons at about the same relative position in
    both texts (a longest increasing subsequence); the share is their number
    over the smaller text's number of skeletons.
    """
    b = theirs.split()
    aligned, share, _ = _align(mine.split(), b, {word: i / len(b) for i, word in enumerate(b)})
    return aligned, share


def _align(a: list[str], b: list[str], where: dict[str, float]) -> tuple[list[str], float, float]:
    """Return the chain of `lexical_alignment`, its share, and how much of both texts it spans.

    `where`: each word of b at its relative position (the last, if repeated).
    """
    if not a or not b:
        return [], 0.0, 0.0
    close = [
        (where[word], word, i / len(a))
        for i, word in enumerate(a)
        if word in where and abs(i / len(a) - where[word]) <= LEXICAL_TOLERANCE
    ]
    tails: list[float] = []
    chain: list[int] = []
    parents: list[int] = []
    for index, (position, _, _) in enumerate(close):
        slot = bisect.bisect_left(tails, position)
        parents.append(chain[slot - 1] if slot else -1)
        if slot == len(tails):
            tails.append(position)
            chain.append(index)
        else:
            tails[slot] = position
            chain[slot] = index
    links: list[tuple[float, str, float]] = []
    index = chain[-1] if chain else -1
    while index >= 0:
        links.append(close[index])
        index = parents[index]
    links.reverse()
    aligned = [word for _, word, _ in links]
    spread = _spread([(x, y) for y, _, x in links])
    return aligned, len(aligned) / min(len(a), len(b)), spread


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


def _prefix_matches(side: Side, other_side: Side) -> list[tuple[str, str]]:
    """Pair 3-letter skeletons of one side with the skeletons they begin on the other.

    Inflection can add a consonant to a short name ('ptn' Putin, 'ptns'
    Putins); such a match counts with the short key's (lower) weight. Each
    short key that only one side has pairs with the first key, in sorted
    order, that only the other side has and that it begins.
    """
    found = []
    for shorter, longer, flipped in ((side, other_side, False), (other_side, side, True)):
        mine, theirs = shorter.groups["s"], longer.groups["s"]
        names = longer.names
        for key in shorter.short_names:
            if key in theirs:
                continue
            # Keys beginning with `key` sort together from where it would go.
            at = bisect.bisect_left(names, key)
            while at < len(names) and names[at].startswith(key) and names[at] in mine:
                at += 1
            if at < len(names) and names[at].startswith(key):
                found.append((names[at], key) if flipped else (key, names[at]))
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
