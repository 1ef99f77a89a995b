"""How specific a fact is: rare among the documents of its time, and not the calendar.

A fact (number, date, year-month, name skeleton, entity id: the evidence
keys of `fingerprint`) shared by two documents says they are one article
only as much as it is rare. Its weight is its kind's prior weight
(`fingerprint.evidence_weight`) times

- its rarity: `log((N + P) / (df + 1)) / log(P)`, clipped to [0.02, 1],
  where df is the number of documents carrying the fact among the N stored
  around the same time (`Frequencies`, kept by the storage over a recent
  window) and P = `PRIOR_DOCUMENTS` pseudo-documents that carry none, so
  that a fact seen once in a nearly empty store still counts fully;
- a calendar factor: the reference year (the publication's, else none)
  and the years next to it as a number, the reference month and its
  neighbours as a year-month, and days of a month within a week of the
  reference date count `CALENDAR_FACTOR` of their weight. In news of early
  January 2020, "2020" and "1 January" are in every other article.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from services.pipeline.matching.evidence import evidence_weight

PRIOR_DOCUMENTS = 50
MIN_RARITY = 0.02
CALENDAR_FACTOR = 0.1
NEAR_DAYS = 7
FACT_KINDS = frozenset("ndmst")


@dataclass(frozen=True)
class Frequencies:
    """Document frequencies of facts over a recent window, for one document's decision.

    `counts`: documents carrying each fact key (absent: none); `total`:
    documents in the window. Build one per document: it caches weights.
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    total: int = 0
    # Weights already computed, by key and reference date: one document is
    # weighed against some fifty candidates that share many facts.
    weighed: dict[tuple[str, date | None], float] = field(
        default_factory=dict, compare=False, repr=False
    )


NO_FREQUENCIES = Frequencies()


def fact_keys(evidence: Iterable[str]) -> list[str]:
    """Return the fact keys among a fingerprint's evidence keys, sorted, distinct."""
    return sorted({k for k in evidence if k[:1] in FACT_KINDS and k[1:2] == ":"})


def rarity(key: str, frequencies: Frequencies) -> float:
    """Return how rare a fact is among the documents of its window, in [MIN_RARITY, 1]."""
    found = frequencies.counts.get(key, 0)
    value = math.log((frequencies.total + PRIOR_DOCUMENTS) / (found + 1)) / math.log(
        PRIOR_DOCUMENTS
    )
    return min(1.0, max(MIN_RARITY, value))


def calendar_factor(key: str, reference: date | None) -> float:
    """Return CALENDAR_FACTOR for a fact that is the calendar around `reference`, else 1."""
    if reference is None:
        return 1.0
    kind, _, value = key.partition(":")
    try:
        if kind == "n" and value.isdigit() and len(value) == 4:
            return CALENDAR_FACTOR if abs(int(value) - reference.year) <= 1 else 1.0
        if kind == "m":
            year, month = (int(part) for part in value.split("-"))
            months = abs((year * 12 + month) - (reference.year * 12 + reference.month))
            return CALENDAR_FACTOR if months <= 1 else 1.0
        if kind == "d":
            month, day = (int(part) for part in value.split("-"))
            days = min(
                abs((date(year, month, day) - reference).days)
                for year in (reference.year - 1, reference.year, reference.year + 1)
            )
            return CALENDAR_FACTOR if days <= NEAR_DAYS else 1.0
    except ValueError:
        return 1.0
    return 1.0


def fact_weight(key: str, frequencies: Frequencies, reference: date | None) -> float:
    """Return what one shared fact says: prior weight x rarity x calendar factor."""
    if frequencies is NO_FREQUENCIES:  # shared by every caller: no cache
        return evidence_weight(key) * rarity(key, frequencies) * calendar_factor(key, reference)
    found = frequencies.weighed.get((key, reference))
    if found is None:
        found = evidence_weight(key) * rarity(key, frequencies) * calendar_factor(key, reference)
        frequencies.weighed[(key, reference)] = found
    return found


def reference_date(*published: datetime | None) -> date | None:
    """Return the calendar reference of a pair: the earliest publication date known."""
    known = [p.date() for p in published if p is not None]
    return min(known) if known else None
