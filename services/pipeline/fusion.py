"""The fitted combination of translation signals, read from `fusion.toml`.

A candidate pair in two languages is described by the signals of `FEATURES`
(see `dedup`); a logistic model turns them into the probability that the
two are one article: `p = 1 / (1 + exp(-(intercept + sum(w_i * x_i))))`.
`python -m bench.fit` fits the weights on candidate pairs of the
development sets and writes `fusion.toml` beside this module; the model
with `cosine` is used when both documents have a vector, the offline one
otherwise. Nothing here is tuned by hand but the gates in `dedup`.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

OFFLINE = "offline"
EMBEDDINGS = "embeddings"

OFFLINE_FEATURES = (
    "offline_score",
    "specific",
    "kinds",
    "order",
    "misfit",
    "aligned",
    "spread",
    "mirrored",
    "unmirrored",
    "score_margin",
)
EMBEDDING_FEATURES = (*OFFLINE_FEATURES, "cosine", "cosine_margin")
FEATURES = {OFFLINE: OFFLINE_FEATURES, EMBEDDINGS: EMBEDDING_FEATURES}


@dataclass(frozen=True)
class Model:
    """One fitted logistic model: its weights by feature, intercept and threshold."""

    name: str
    intercept: float
    weights: Mapping[str, float]
    threshold: float

    def logit(self, features: Mapping[str, float]) -> float:
        """Return the log-odds of one article for these feature values."""
        return self.intercept + sum(w * float(features[k]) for k, w in self.weights.items())

    @property
    def logit_threshold(self) -> float:
        """Return the threshold as log-odds."""
        return math.log(self.threshold / (1.0 - self.threshold))

    def probability(self, features: Mapping[str, float]) -> float:
        """Return the probability of one article for these feature values."""
        z = self.logit(features)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@dataclass(frozen=True)
class Fusion:
    """The offline model and the model with embeddings."""

    offline: Model
    embeddings: Model

    def model(self, with_cosine: bool) -> Model:
        """Return the model for a pair with or without a cosine."""
        return self.embeddings if with_cosine else self.offline


def parse_fusion(text: str, features: Mapping[str, Sequence[str]] = FEATURES) -> Fusion:
    """Build a Fusion from the text of a TOML file of two models (`format_fusion`).

    `features`: each model's feature names (this module's by default); the
    file must give a weight for each.
    """
    raw = tomllib.loads(text)
    models = []
    for name in (OFFLINE, EMBEDDINGS):
        section = raw[name]
        weights = {k: float(section["weights"][k]) for k in features[name]}
        models.append(
            Model(name, float(section["intercept"]), weights, float(section["threshold"]))
        )
    return Fusion(*models)


def read_packaged(filename: str, features: Mapping[str, Sequence[str]] = FEATURES) -> Fusion:
    """Read a Fusion from a file packaged beside this module."""
    path = resources.files("services.pipeline") / filename
    return parse_fusion(path.read_text(encoding="utf-8"), features)


@functools.cache
def load_fusion() -> Fusion:
    """Read the packaged fusion.toml once per process."""
    return read_packaged("fusion.toml")


def format_fusion(fusion: Fusion, header: str) -> str:
    """Return the TOML text of a Fusion, each line of `header` as a comment."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for model in (fusion.offline, fusion.embeddings):
        lines += [
            "",
            f"[{model.name}]",
            f"intercept = {model.intercept:.6f}",
            f"threshold = {model.threshold:.6f}",
            "",
            f"[{model.name}.weights]",
        ]
        lines += [f"{k} = {w:.6f}" for k, w in model.weights.items()]
    return "\n".join(lines) + "\n"
