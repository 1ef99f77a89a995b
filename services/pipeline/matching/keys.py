"""The keys a document is indexed under: combinations of the evidence a translation keeps."""

from __future__ import annotations

import itertools

from services.pipeline.matching.evidence import Evidence, evidence_weight
from services.pipeline.matching.settings import FingerprintSettings


def evidence_keys(evidence: Evidence, settings: FingerprintSettings) -> list[str]:
    """Return the keys that survive translation, in order."""
    numbers = sorted(
        (k[2:] for k in evidence.positions if k.startswith("n:")),
        key=lambda v: (-evidence_weight("n:" + v), v),
    )[: settings.key_numbers]
    names = sorted(evidence.name_counts, key=lambda k: (-evidence.name_counts[k], -len(k), k))[
        : settings.key_names
    ]
    return [
        *_number_keys(evidence, numbers),
        *_word_keys(evidence, names, numbers, settings),
        *_tag_keys(evidence, settings),
    ]


def _number_keys(evidence: Evidence, numbers: list[str]) -> list[str]:
    keys: list[str] = []
    specific = [n for n in numbers if evidence_weight("n:" + n) >= 2.0]
    if len(numbers) >= 3:
        for triple in itertools.combinations(sorted(numbers), 3):
            keys.append("n3:" + "|".join(triple))
    elif len(specific) == 2:
        keys.append("n2:" + "|".join(sorted(specific)))
    days = sorted(k[2:] for k in evidence.positions if k.startswith("d:"))[:3]
    for day in days:
        for number in specific[:4]:
            keys.append(f"ev:{day}|{number}")
    for number in specific:
        keys.append("n1:" + number)
    return keys


def _word_keys(
    evidence: Evidence, names: list[str], numbers: list[str], settings: FingerprintSettings
) -> list[str]:
    keys: list[str] = []
    words = [w for w in evidence.lexical if len(w) == 4][: settings.key_words]
    for word in dict.fromkeys([*(names if evidence.cased else []), *words]):
        keys.append("w:" + word)
    if evidence.cased:
        for pair in itertools.combinations(sorted(names), 2):
            keys.append("nm:" + "|".join(pair))
        for name in names[:3]:
            for number in numbers[:3]:
                keys.append(f"nn:{name}|{number}")
    return keys


def _tag_keys(evidence: Evidence, settings: FingerprintSettings) -> list[str]:
    tags = sorted(k[2:] for k in evidence.positions if k.startswith("t:"))
    tags = sorted(tags, key=lambda t: (-evidence_weight("t:" + t), t))[: settings.key_tags]
    return [
        "tg:" + "|".join(pair)
        for pair in itertools.combinations(sorted(tags), 2)
        if not all(t.startswith("country:") for t in pair)
    ]
