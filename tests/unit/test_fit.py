"""The translation threshold: a precision target over all documents, clear of must-stay-apart."""

from __future__ import annotations

import math

from bench.fit import MIN_THRESHOLD, pick_threshold
from services.pipeline.dedup import MARGIN
from services.pipeline.fusion import Model

# One signal, weight 1: a row's log-odds is its `x`.
MODEL = Model("", 0.0, {"x": 1.0}, 0.5)


def rows(logits: list[float], label: bool, prefix: str) -> list[tuple[str, bool, dict, bool]]:
    return [(f"{prefix}{i}", label, {"x": z}, True) for i, z in enumerate(logits)]


def probability(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_one_wrong_document_among_many_right_does_not_set_the_threshold() -> None:
    right = rows([10.0 - i * 0.02 for i in range(150)], True, "r")
    wrong = rows([8.0], False, "w")
    threshold = pick_threshold(MODEL, right + wrong, [])
    assert threshold < probability(8.0)
    assert threshold == probability(min(z for _, _, f, _ in right for z in f.values()))


def test_a_must_stay_apart_document_keeps_the_threshold_above_it_by_the_margin() -> None:
    right = rows([10.0 - i * 0.02 for i in range(150)], True, "r")
    apart = rows([8.0], False, "a")
    threshold = pick_threshold(MODEL, right, apart)
    assert math.isclose(threshold, probability(8.0 + MARGIN))


def test_the_threshold_is_never_below_the_floor() -> None:
    assert pick_threshold(MODEL, rows([0.5, 1.0], True, "r"), []) == MIN_THRESHOLD
