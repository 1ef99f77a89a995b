"""Measure deduplication quality: `python -m bench.eval [--json] [--set NAME]`.

Runs the pipeline stages in-process (normalize, detect_language, tag,
fingerprint, decide) over each evaluation set, documents fed in arrival
order, with an in-memory inverted index that mimics the storage lookup:
candidates share the content hash or a key; each key's postings are capped
to the most recent `POSTINGS_PER_KEY` documents, as the storage's are; the
`CANDIDATE_CAP` candidates sharing most keys are scored.

Sets:
- `devset`: tests/data/devset/*.jsonl (ours; see its README).
- `seeds`: seeds/*.txt (000 and 001 are one story; the rest are distinct).
- `wmt`: /work/shared/data/wmt-ruen (or $WMT_DIR), read in place, never
  copied: Russian news with one or two human English translations, `group`
  as ground truth, and its labelled pairs (hard negatives included).
- `orphans`: the `wmt` set twice, each time without the Russian original of
  every other story (odd, then even): English translations whose original
  never arrives meet only same-topic candidates, so every translation link
  they make is a false merge. Measures precision where most documents have
  no counterpart, as in production.

Reports pairwise precision, recall and F1 over pairs of documents placed in
one story, by the pair's relation: `exact_duplicate` (same matching text),
`near_duplicate` (same language) and `translation` (different languages).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.pipeline.dedup import EXACT, NEAR, TRANSLATION, Candidate, Match, decide
from services.pipeline.fingerprint import Fingerprint, fingerprint
from services.pipeline.language import detect_language
from services.pipeline.normalize import Normalized, RawDocument, normalize
from services.pipeline.tag import tag
from services.storage.index import POSTINGS_PER_KEY

ROOT = Path(__file__).resolve().parent.parent
DEVSET_DIR = ROOT / "tests" / "data" / "devset"
SEEDS_DIR = ROOT / "seeds"
WMT_DIR = Path(os.environ.get("WMT_DIR", "/work/shared/data/wmt-ruen"))
CANDIDATE_CAP = 50
SEED_GROUPS = {"000": "kz-oic-women", "001": "kz-oic-women"}
SEED_LANGUAGES = {"001": "ar"}


@dataclass
class Doc:
    id: str
    lang: str
    group: str
    content: str
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None


@dataclass
class Outcome:
    doc: Doc
    language: str
    story: str
    match: Match | None
    matching_text: str
    candidates: int
    fingerprint_ms: float
    decide_ms: float


@dataclass
class Index:
    """The storage lookup, in memory: content hash and key postings."""

    postings: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    stored: dict[str, Candidate] = field(default_factory=dict)

    def candidates(self, fp: Fingerprint) -> list[Candidate]:
        shared: Counter[str] = Counter()
        recency: dict[str, int] = {}
        for key in ("hash:" + fp.content_hash, *fp.keys):
            for rank, doc_id in enumerate(self.postings.get(key, ())[-POSTINGS_PER_KEY:]):
                shared[doc_id] += 1000 if key.startswith("hash:") else 1
                recency[doc_id] = max(recency.get(doc_id, 0), rank)
        best = sorted(shared, key=lambda d: (-shared[d], -recency[d], d))[:CANDIDATE_CAP]
        return [self.stored[d] for d in best]

    def add(self, candidate: Candidate) -> None:
        fp = candidate.fingerprint
        for key in ("hash:" + fp.content_hash, *fp.keys):
            self.postings[key].append(candidate.document_id)
        self.stored[candidate.document_id] = candidate


def run(docs: Iterable[Doc]) -> list[Outcome]:
    """Feed documents through the stages in order; return what happened."""
    index = Index()
    outcomes = []
    for doc in docs:
        normalized = normalize(
            RawDocument(
                content=doc.content,
                title=doc.title,
                source=doc.source,
                language=doc.lang,
                published_at=doc.published_at,
            )
        )
        language = detect_language(normalized.text or (normalized.title or ""), doc.lang).code
        tags = tag(normalized, language)
        started = time.perf_counter()
        fp = fingerprint(normalized, language, tags)
        fingerprinted = time.perf_counter()
        candidates = index.candidates(fp)
        looked_up = time.perf_counter()
        match = decide(fp, language, normalized.published_at, candidates)
        decided = time.perf_counter()
        story = match.story_id if match else doc.id
        index.add(Candidate(doc.id, story, language, normalized.published_at, fp))
        outcomes.append(
            Outcome(
                doc,
                language,
                story,
                match,
                _matching(normalized),
                len(candidates),
                (fingerprinted - started) * 1000,
                (decided - looked_up) * 1000,
            )
        )
    return outcomes


def _matching(normalized: Normalized) -> str:
    return normalized.matching_text


def pair_relation(a: Outcome, b: Outcome) -> str:
    """Return the relation a pair of documents would have if one story."""
    if a.doc.lang != b.doc.lang:
        return TRANSLATION
    return EXACT if a.matching_text == b.matching_text else NEAR


def score(outcomes: list[Outcome]) -> dict[str, Any]:
    """Return pairwise precision, recall and F1 by relation, and timings."""
    counts: dict[str, Counter[str]] = {r: Counter() for r in (EXACT, NEAR, TRANSLATION)}
    false_merges = []
    for a, b in itertools.combinations(outcomes, 2):
        truth = a.doc.group == b.doc.group
        predicted = a.story == b.story
        if not truth and not predicted:
            continue
        relation = pair_relation(a, b)
        counts[relation]["tp" if truth and predicted else "fp" if predicted else "fn"] += 1
        if predicted and not truth:
            false_merges.append([a.doc.id, b.doc.id])
    table: dict[str, Any] = {}
    for relation, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[relation] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }
    fp_ms = [o.fingerprint_ms for o in outcomes]
    decide_ms = [o.decide_ms for o in outcomes]
    return {
        "documents": len(outcomes),
        "translation_links": sum(
            1 for o in outcomes if o.match is not None and o.match.relation == TRANSLATION
        ),
        "pairs": table,
        "false_merges": false_merges[:50],
        "false_merge_count": len(false_merges),
        "timing_ms": {
            "fingerprint_median": round(statistics.median(fp_ms), 3) if fp_ms else 0.0,
            "fingerprint_mean": round(statistics.fmean(fp_ms), 3) if fp_ms else 0.0,
            "fingerprint_p95": round(_p95(fp_ms), 3),
            "decide_median": round(statistics.median(decide_ms), 3) if decide_ms else 0.0,
            "decide_mean": round(statistics.fmean(decide_ms), 3) if decide_ms else 0.0,
            "decide_p95": round(_p95(decide_ms), 3),
            "candidates_mean": round(statistics.fmean(o.candidates for o in outcomes), 2)
            if outcomes
            else 0.0,
            "candidates_max": max((o.candidates for o in outcomes), default=0),
        },
    }


def score_labelled_pairs(outcomes: list[Outcome], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return, per labelled relation, how often the pair ended in one story."""
    story = {o.doc.id: o.story for o in outcomes}
    by_relation: dict[str, Counter[str]] = defaultdict(Counter)
    for pair in pairs:
        if pair["a"] not in story or pair["b"] not in story:
            continue
        merged = story[pair["a"]] == story[pair["b"]]
        by_relation[pair["relation"]]["merged" if merged else "separate"] += 1
    return {
        relation: {
            "pairs": c["merged"] + c["separate"],
            "label": 1 if relation in ("translation", "independent_translations_same_lang") else 0,
            "merged_rate": round(c["merged"] / max(1, c["merged"] + c["separate"]), 4),
        }
        for relation, c in sorted(by_relation.items())
    }


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def load_devset(folder: Path = DEVSET_DIR) -> list[Doc]:
    """Return the development set in arrival order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            rows.extend(json.loads(line) for line in lines if line.strip())
    rows.sort(key=lambda r: (r.get("order", 0), r["id"]))
    return [
        Doc(
            r["id"],
            r["lang"],
            r["group"],
            r["text"],
            r.get("title"),
            _datetime(r.get("published_at")),
            r.get("source"),
        )
        for r in rows
    ]


def load_seeds(folder: Path = SEEDS_DIR) -> list[Doc]:
    """Return the seed articles; only 000 and 001 share a story."""
    docs = []
    for path in sorted(folder.glob("*.txt")):
        number = path.name[:3]
        content = path.read_text(encoding="utf-8")
        language = SEED_LANGUAGES.get(number, "en")
        docs.append(Doc(path.stem, language, SEED_GROUPS.get(number, number), content))
    return docs


def load_wmt(folder: Path = WMT_DIR) -> tuple[list[Doc], list[dict[str, Any]]]:
    """Return the WMT documents in file order and the labelled pairs."""
    docs = []
    with (folder / "docs.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            docs.append(
                Doc(
                    r["id"], r["lang"], r["group"], r["text"], r.get("title"), None, r.get("outlet")
                )
            )
    with (folder / "pairs.jsonl").open(encoding="utf-8") as lines:
        pairs = [json.loads(line) for line in lines if line.strip()]
    return docs, pairs


def evaluate(names: list[str]) -> dict[str, Any]:
    """Run the named sets; return their scores."""
    results: dict[str, Any] = {}
    for name in names:
        if name == "devset":
            results[name] = score(run(load_devset()))
        elif name == "seeds":
            outcomes = run(load_seeds())
            results[name] = score(outcomes)
            results[name]["links"] = [
                [o.doc.id, o.match.document_id, o.match.relation, o.match.score]
                for o in outcomes
                if o.match
            ]
        elif name == "wmt":
            if not (WMT_DIR / "docs.jsonl").exists():
                results[name] = {"skipped": f"{WMT_DIR} not found"}
                continue
            docs, pairs = load_wmt()
            outcomes = run(docs)
            results[name] = score(outcomes)
            results[name]["labelled_pairs"] = score_labelled_pairs(outcomes, pairs)
        elif name == "orphans":
            if not (WMT_DIR / "docs.jsonl").exists():
                results[name] = {"skipped": f"{WMT_DIR} not found"}
                continue
            docs, _ = load_wmt()
            groups = sorted({d.group for d in docs})
            false_merges: list[list[str]] = []
            links = 0
            for parity in (0, 1):
                withheld = set(groups[parity::2])
                scored = score(run(d for d in docs if not (d.lang == "ru" and d.group in withheld)))
                false_merges += scored["false_merges"]
                links += scored["translation_links"]
            results[name] = {
                "translation_links": links,
                "false_merge_count": len(false_merges),
                "false_merges": false_merges[:50],
            }
    return results


def print_table(results: dict[str, Any]) -> None:
    """Print the scores as plain-text tables."""
    header = (
        f"{'set':8} {'relation':16} {'tp':>5} {'fp':>5} {'fn':>5} {'prec':>7} {'rec':>7} {'f1':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, result in results.items():
        if "skipped" in result:
            print(f"{name:8} skipped: {result['skipped']}")
            continue
        if "pairs" not in result:
            continue
        for relation, row in result["pairs"].items():
            print(
                f"{name:8} {relation:16} {row['tp']:>5} {row['fp']:>5} {row['fn']:>5} "
                f"{row['precision']:>7.3f} {row['recall']:>7.3f} {row['f1']:>7.3f}"
            )
    print()
    for name, result in results.items():
        if "skipped" in result:
            continue
        if "timing_ms" not in result:
            print(
                f"{name:8} translation links={result['translation_links']}"
                f" false merges={result['false_merge_count']}"
            )
            continue
        t = result["timing_ms"]
        print(
            f"{name:8} docs={result['documents']:<4} false merges={result['false_merge_count']:<3}"
            f" links={result['translation_links']:<4}"
            f" fingerprint median {t['fingerprint_median']:.2f} ms (p95 {t['fingerprint_p95']:.2f})"
            f"  decide median {t['decide_median']:.2f} ms (p95 {t['decide_p95']:.2f})"
            f"  candidates mean {t['candidates_mean']} max {t['candidates_max']}"
        )
    wmt = results.get("wmt", {})
    if "labelled_pairs" in wmt:
        print("\nwmt labelled pairs: share placed in one story")
        for relation, row in wmt["labelled_pairs"].items():
            print(
                f"  {relation:36} label={row['label']} n={row['pairs']:<5} "
                f"merged={row['merged_rate']:.3f}"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; print a table, or JSON with --json."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--set",
        action="append",
        choices=["devset", "seeds", "wmt", "orphans"],
        help="evaluate only this set (repeatable)",
    )
    args = parser.parse_args(argv)
    results = evaluate(args.set or ["devset", "seeds", "wmt", "orphans"])
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
