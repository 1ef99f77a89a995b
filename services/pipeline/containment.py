"""Find how much of a shorter text another one contains: cut and re-edited copies.

A copy cut at a third of its source, or re-published under a new headline
with a paragraph added, shares little of the longer text's word shingles:
their Jaccard similarity, which MinHash estimates, is low. What stays high
is containment: the share of the shorter text's shingles found in the
longer one. Two sketches measure and find it:

- `sketch`: the smallest `SKETCH_SIZE` hashes of the text's word 5-shingles
  (a bottom-k sketch). A text with fewer shingles is kept whole, so for
  short news the containment is exact; for a long one it is estimated on
  the shorter text's shingles that fall below the longer sketch's largest
  hash, where both sketches are complete.
- `keys`: shingles chosen by their content (hash modulo `KEY_RATE` is 0), in
  text order, at most `KEY_COUNT`. A copy holds the same shingles and so the
  same chosen ones; a truncated copy holds the first ones. The storage
  indexes them as ``cs:<hash>`` keys, so a short copy of a long text is
  found without scanning.

Five-word shingles: a dateline changed from "BEIJING —" to "BEIJING:" or a
sentence edited breaks only the five shingles across it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from services.pipeline.matching.minhash import shingle_hashes

SHINGLE_WORDS = 5
SKETCH_SIZE = 256
KEY_RATE = 16
KEY_COUNT = 16
KEY_PREFIX = "cs:"


@dataclass(frozen=True)
class Containment:
    """How much of the shorter text the longer holds, and how many shingles it rests on.

    `sample`: the shorter text's shingles compared (all of them when both
    texts are short); `shingles`: each text's shingle count.
    """

    value: float
    sample: int
    shingles: tuple[int, int]

    def to_json(self) -> dict[str, object]:
        return {
            "containment": round(self.value, 4),
            "compared_shingles": self.sample,
            "shingles": list(self.shingles),
        }


def sketch(matching_text: str) -> tuple[np.ndarray, list[str], int]:
    """Return the text's bottom-k sketch, its content-chosen keys and its shingle count.

    Deterministic across processes (the shingle hashes are CRC-32 based).
    """
    ordered = _shingles_in_order(matching_text)
    distinct = np.unique(ordered)
    chosen = ordered[ordered % KEY_RATE == 0]
    _, first = np.unique(chosen, return_index=True)
    keys = [f"{KEY_PREFIX}{int(value):08x}" for value in chosen[np.sort(first)][:KEY_COUNT]]
    return distinct[:SKETCH_SIZE].astype("<u4"), keys, len(distinct)


def encode(values: np.ndarray) -> str:
    """Return the sketch as stored in the fingerprint data (base64 of 32-bit values)."""
    return base64.b64encode(values.astype("<u4").tobytes()).decode("ascii")


def decode(encoded: str) -> np.ndarray:
    """Return a sketch stored by `encode` (empty for none)."""
    if not encoded:
        return np.zeros(0, dtype="<u4")
    return np.frombuffer(base64.b64decode(encoded), dtype="<u4")


def measure_containment(a: np.ndarray, a_count: int, b: np.ndarray, b_count: int) -> Containment:
    """Return the share of the shorter text's shingles that the longer text holds.

    Both sketches are complete below the smaller of their largest values
    (or wholly, for a text with at most `SKETCH_SIZE` shingles): the
    shorter text's shingles there are looked up in the longer's. Symmetric.
    """
    if a_count > b_count or (a_count == b_count and bytes(a) > bytes(b)):
        a, a_count, b, b_count = b, b_count, a, a_count
    if not len(a) or not len(b):
        return Containment(0.0, 0, (a_count, b_count))
    bound = min(
        int(a[-1]) if a_count > len(a) else np.iinfo(np.uint32).max,
        int(b[-1]) if b_count > len(b) else np.iinfo(np.uint32).max,
    )
    sample = a[a <= bound]
    if not len(sample):
        return Containment(0.0, 0, (a_count, b_count))
    held = int(np.count_nonzero(np.isin(sample, b, assume_unique=True)))
    return Containment(held / len(sample), len(sample), (a_count, b_count))


def _shingles_in_order(matching_text: str) -> np.ndarray:
    return shingle_hashes(matching_text, SHINGLE_WORDS, ordered=True)
