"""Deduplication decisions: exact, near-duplicate, translation or a new story."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from services.pipeline.dedup import (
    EXACT,
    NEAR,
    TRANSLATION,
    Candidate,
    Context,
    Thresholds,
    assess,
    conclude,
    decide,
    passes_gates,
    signals,
)
from services.pipeline.fingerprint import Fingerprint, fingerprint
from services.pipeline.fusion import FEATURES, load_fusion
from services.pipeline.matching.score import (
    Party,
    Side,
    lexical_alignment,
    mirrored_paragraphs,
    translation_evidence,
)
from services.pipeline.normalize import RawDocument, normalize
from services.pipeline.specificity import Frequencies
from services.pipeline.tag import Tag, tag


def tag_of(text: str, language: str) -> list[Tag]:
    return tag(normalize(RawDocument(content=text)), language)


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
    assert match.score >= load_fusion().offline.threshold
    assert match.evidence["model"] == "offline"
    assert set(match.evidence["signals"]) == set(FEATURES["offline"])
    assert match.evidence["weights"]["d:06-07"] > 0


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


def with_vector(c: Candidate, vector: np.ndarray) -> Candidate:
    return dataclasses.replace(c, vector=vector)


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_with_vectors_the_embedding_model_decides_and_records_the_cosine() -> None:
    fp = fingerprint_of(seed("001"), "ar")
    match = decide(
        fp, "ar", None, [with_vector(candidate("000"), unit(1, 0))], context=Context(unit(1, 0))
    )
    assert match is not None and match.relation == TRANSLATION
    assert match.evidence["model"] == "embeddings"
    assert match.evidence["cosine"] == pytest.approx(1.0)
    assert match.evidence["signals"]["cosine"] == pytest.approx(1.0)


def test_a_distant_embedding_lowers_a_translation_candidates_odds() -> None:
    fp = fingerprint_of(seed("001"), "ar")
    model = load_fusion().embeddings

    def odds(vector: np.ndarray) -> float:
        found = assess(
            fp, "ar", None, [with_vector(candidate("000"), vector)], context=Context(unit(1, 0))
        )
        return model.logit(signals(found)[0][1]["features"])

    assert odds(unit(0, 1)) < odds(unit(1, 1)) < odds(unit(1, 0))


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
    match = decide(fp, "en", None, [short_candidate("ru", BRIEF_RU, "ru")])
    assert match is not None and match.relation == TRANSLATION
    assert match.evidence["runner_up"] is None


def test_a_short_translation_with_a_close_rival_stays_apart() -> None:
    fp = fingerprint_of(BRIEF_EN, "en")
    original = short_candidate("ru", BRIEF_RU, "ru")
    rival = short_candidate("ru-2", BRIEF_RU.replace("Гастроли", "Тур"), "ru")
    assert decide(fp, "en", None, [original, rival]) is None


NAMES_EN = (
    "Talks in Vienna\n\nMaria Kowalska met Johannes Brandtner and Tokayev in Vienna;"
    " Brandtner thanked Kowalska."
)
NAMES_RU = (
    "Переговоры в Вене\n\nМария Ковальска встретилась с Йоханнесом Брандтнером и Токаевым в"
    " Вене; Брандтнер поблагодарил Ковальску."
)


def test_names_alone_never_link_without_vectors() -> None:
    match = decide(
        fingerprint_of(NAMES_EN, "en"), "en", None, [short_candidate("ru", NAMES_RU, "ru")]
    )
    assert match is None


CALENDAR_EN = "New year\n\nOn 1 January 2020 the town celebrated the year 2020."
CALENDAR_PL = "Nowy rok\n\nW dniu 1 stycznia 2020 r. podatki na rok 2020 wzrosły."


def test_the_calendar_around_publication_is_no_evidence() -> None:
    published = datetime(2020, 1, 2, tzinfo=UTC)
    fp = fingerprint_of(CALENDAR_EN, "en")
    other = Candidate(
        "pl", "story-pl", "pl", published, fingerprint_of(CALENDAR_PL, "pl"), unit(1, 0)
    )
    assert decide(fp, "en", published, [other], context=Context(unit(1, 0))) is None
    evidence = assess(fp, "en", published, [other], context=Context(unit(1, 0)))[0].evidence
    assert evidence is not None
    assert evidence["weights"]["n:2020"] < 0.2
    assert evidence["facts_weight"] < 1.0


def test_a_fact_common_in_the_window_weighs_less() -> None:
    fp = fingerprint_of(seed("001"), "ar")
    rare = assess(fp, "ar", None, [candidate("000")])[0].evidence
    common = Frequencies({"d:06-07": 400}, 1000)
    often = assess(fp, "ar", None, [candidate("000")], context=Context(frequencies=common))[
        0
    ].evidence
    assert rare is not None and often is not None
    assert often["weights"]["d:06-07"] < rare["weights"]["d:06-07"] / 2
    assert often["weights"]["n:2005"] == rare["weights"]["n:2005"]


def test_a_document_its_story_matches_better_in_its_language_is_not_its_translation() -> None:
    # 000 and its translation 001 are one story; 002, another English article,
    # fits 001 far worse than 000 does.
    vector = unit(1, 0)
    story = [
        dataclasses.replace(with_vector(candidate("000"), vector), story_id="story"),
        dataclasses.replace(with_vector(candidate("001"), vector), story_id="story"),
    ]
    assert (
        decide(fingerprint_of(seed("002"), "en"), "en", None, story, context=Context(vector))
        is None
    )


def test_a_rival_story_of_about_equal_weight_blocks_the_link() -> None:
    # Posted without paragraphs, the original and its twin of another story
    # cannot be told to be one article.
    fp = fingerprint_of(seed("001"), "ar")
    flat = " ".join(seed("000").split())
    original = dataclasses.replace(candidate(flat, "en"), document_id="doc-000")
    twin = dataclasses.replace(original, document_id="doc-twin", story_id="story-twin")
    twin_ar = dataclasses.replace(
        candidate("001"), document_id="doc-twin-ar", story_id="story-twin-ar"
    )
    # A document in the new one's own language is no translation rival.
    assert decide(fp, "ar", None, [original, twin_ar]) is not None
    assert decide(fp, "ar", None, [original, twin]) is None


def test_a_rival_with_the_winners_paragraphs_is_the_same_article() -> None:
    # The original's text in a story of its own (a translation of it that did
    # not join) has its paragraphs: no rival.
    fp = fingerprint_of(seed("001"), "ar")
    twin = dataclasses.replace(candidate("000"), document_id="doc-twin", story_id="story-twin")
    match = decide(fp, "ar", None, [candidate("000"), twin])
    assert match is not None and match.relation == TRANSLATION


def gate_case(**changes: object) -> tuple[dict[str, float], dict[str, object]]:
    features = {
        "offline_score": 0.8,
        "kinds": 2.0,
        "spread": 0.5,
        "mirrored": 0.0,
        "cosine": 0.9,
    }
    evidence: dict[str, object] = {
        "weights": {"n:4711": 2.0, "s:tkf": 2.0},
        "facts_weight": 2.0,
        "placed": 2,
        "unshared_elsewhere": 0,
        "aligned_words": 0,
        "aligned_spread": 0.0,
        "specific_names": 1,
    }
    for key, value in changes.items():
        if key in features:
            features[key] = float(value)  # type: ignore[arg-type]
        else:
            evidence[key] = value
    return features, evidence


def test_the_gates_pass_specific_facts_of_two_kinds() -> None:
    assert passes_gates(*gate_case())


def test_the_gates_refuse_a_small_share_of_the_evidence() -> None:
    assert not passes_gates(*gate_case(offline_score=0.1))


def test_the_gates_refuse_one_name_even_with_vectors() -> None:
    assert not passes_gates(*gate_case(facts_weight=0.0, kinds=1, specific_names=1))
    assert passes_gates(*gate_case(facts_weight=0.0, kinds=1, specific_names=2))


def test_the_gates_refuse_names_alone_without_vectors() -> None:
    features, evidence = gate_case(weights={"s:lmst": 2.0, "s:tkf": 2.0}, facts_weight=0.0)
    del features["cosine"]
    assert not passes_gates(features, evidence)


def test_with_vectors_the_article_structure_stands_for_missing_facts() -> None:
    one_name = {"facts_weight": 0.0, "kinds": 1, "specific_names": 1}
    assert not passes_gates(*gate_case(**one_name))
    # A chain of words in order through both texts, not in one place.
    assert passes_gates(*gate_case(**one_name, aligned_words=12, aligned_spread=0.6))
    assert not passes_gates(*gate_case(**one_name, aligned_words=12, aligned_spread=0.1))
    # The same paragraphs, starting at about the same places, with no specific fact at all.
    assert passes_gates(*gate_case(**one_name, mirrored=0.8))
    assert passes_gates(*gate_case(weights={}, facts_weight=0.0, kinds=0, mirrored=0.8))
    assert not passes_gates(*gate_case(**one_name, mirrored=0.3))


def test_without_vectors_the_paragraphs_alone_do_not_pass_names() -> None:
    features, evidence = gate_case(facts_weight=0.0, kinds=1, specific_names=1, mirrored=1.0)
    del features["cosine"]
    assert not passes_gates(features, evidence)


def test_mirrored_paragraphs_need_as_many_starting_at_about_the_same_places() -> None:
    starts = [0.0, 0.1, 0.4, 0.7]
    assert mirrored_paragraphs(starts, starts) == 1.0
    assert mirrored_paragraphs(starts, [0.0, 0.12, 0.41, 0.7]) == pytest.approx(0.8)
    assert mirrored_paragraphs(starts, [0.0, 0.1, 0.55, 0.7]) == 0.0
    assert mirrored_paragraphs(starts, [*starts, 0.9]) == 0.0
    assert mirrored_paragraphs(starts[:3], starts[:3]) == 0.0


def test_paragraphs_that_do_not_line_up_count_against_only_when_both_have_them() -> None:
    def paragraphs(starts: list[float], other: list[float]) -> tuple[float, float]:
        found = translation_evidence(
            Party(Side({"par": starts}), "en", None), Party(Side({"par": other}), "ru", None)
        )["signals"]
        return found["mirrored"], found["unmirrored"]

    four = [0.0, 0.1, 0.4, 0.7]
    assert paragraphs(four, four) == (1.0, 0.0)
    assert paragraphs(four, [0.0, 0.3, 0.5, 0.6, 0.8]) == (0.0, 1.0)
    # A text posted without its paragraphs says nothing either way.
    assert paragraphs(four, [0.0, 0.05]) == (0.0, 0.0)


def test_the_aligned_chain_records_how_much_of_both_texts_it_spans() -> None:
    words = [f"w{i:02d}" for i in range(40)]
    through = translation_evidence(party(" ".join(words)), party(" ".join(words)))
    assert through["aligned_words"] == 40
    assert through["aligned_spread"] > 0.9
    clustered = words[:5] + [f"x{i:02d}" for i in range(35)]
    other = words[:5] + [f"y{i:02d}" for i in range(35)]
    one_place = translation_evidence(party(" ".join(clustered)), party(" ".join(other)))
    assert one_place["aligned_words"] == 5
    assert one_place["aligned_spread"] < 0.15


def party(lexical: str) -> Party:
    return Party(Side({"lx": lexical}), "en", None)


PARAGRAPHS_RU = (
    "Мост через Лену\n\nПравительство Якутии 14 марта 2023 года утвердило проект моста через"
    " Лену стоимостью 112 миллиардов рублей.\n\nГубернатор Айсен Николаев заявил, что"
    " строительство начнётся в 2024 году и займёт 5 лет.\n\nДлина моста составит 3250 метров;"
    " подрядчиком выбрана компания «Автобан»."
)
PARAGRAPHS_EN = (
    "Bridge over the Lena\n\nOn 14 March 2023 the government of Yakutia approved the design of"
    " a bridge over the Lena costing 112 billion roubles.\n\nGovernor Aisen Nikolaev said"
    " construction would begin in 2024 and take 5 years.\n\nThe bridge will be 3,250 metres"
    " long; the company Avtoban was chosen as the contractor."
)
# Another translator's English: freer, fewer of the figures, the same paragraphs.
PARAGRAPHS_EN_B = (
    "A Lena crossing\n\nYakutia's cabinet signed off in mid-March on plans for a road crossing"
    " of the great Siberian river, priced at 112 billion rubles.\n\nRegional head Aisen"
    " Nikolaev says work starts next year and will last half a decade.\n\nThe span is to be"
    " over three kilometres, and the builder picked is the firm Avtoban."
)

PARAGRAPHS_DE = (
    "Brücke über die Lena\n\nAm 14. März 2023 billigte die Regierung Jakutiens den Entwurf"
    " einer Brücke über die Lena für 112 Milliarden Rubel.\n\nGouverneur Aisen Nikolajew sagte,"
    " der Bau beginne 2024 und dauere 5 Jahre.\n\nDie Brücke wird 3250 Meter lang; als"
    " Auftragnehmer wurde die Firma Avtoban gewählt."
)


def test_two_translations_of_one_original_with_its_paragraphs_are_mutually_best() -> None:
    # The original's story already holds one English translation; a second,
    # independent one with the same paragraphs joins even if it fits less well.
    vector = unit(1, 0)
    original = with_vector(short_candidate("ru", PARAGRAPHS_RU, "ru"), vector)
    first = with_vector(short_candidate("en-a", PARAGRAPHS_EN, "en"), vector)
    story = [dataclasses.replace(c, story_id="story") for c in (original, first)]
    second = fingerprint_of(PARAGRAPHS_EN_B, "en")
    match = decide(second, "en", None, story, context=Context(vector))
    assert match is not None and match.document_id == "ru"


def test_the_margins_are_over_another_article_not_the_same_one_in_another_story() -> None:
    fp = fingerprint_of(PARAGRAPHS_EN, "en")
    original = with_vector(short_candidate("ru", PARAGRAPHS_RU, "ru"), unit(1, 0.2))
    sibling = with_vector(short_candidate("de", PARAGRAPHS_DE, "de"), unit(1, 0))
    other = with_vector(short_candidate("ru-other", BRIEF_RU, "ru"), unit(1, 0))

    def margins(*others: Candidate) -> tuple[float, float]:
        found = signals(assess(fp, "en", None, [original, *others], context=Context(unit(1, 0))))
        features = next(f["features"] for c, f in found if c.document_id == "ru")
        return features["cosine_margin"], features["score_margin"]

    assert (
        mirrored_paragraphs(original.fingerprint.data["par"], sibling.fingerprint.data["par"])
        >= 0.5
    )
    alone = margins()
    assert margins(sibling) == pytest.approx(alone)
    cosine_margin, _ = margins(other)
    assert cosine_margin < 0 < alone[0]


def test_the_gates_refuse_facts_in_one_passage_of_another_article() -> None:
    assert not passes_gates(*gate_case(placed=3, spread=0.01, unshared_elsewhere=2))
    assert passes_gates(*gate_case(placed=3, spread=0.01, unshared_elsewhere=0))


def test_shared_countries_are_not_specific_facts() -> None:
    en = "Borders\n\nGermany closed its borders with France, Austria and Denmark on Monday."
    de = (
        "Grenzen\n\nDeutschland schloss am Montag die Grenzen zu Frankreich,"
        " Österreich und Dänemark."
    )
    fp = fingerprint(normalize(RawDocument(content=de)), "de", tag_of(de, "de"))
    other = Candidate(
        "en",
        "story-en",
        "en",
        None,
        fingerprint(normalize(RawDocument(content=en)), "en", tag_of(en, "en")),
    )
    evidence = assess(fp, "de", None, [other])[0].evidence
    assert evidence is not None
    assert any(key.startswith("t:country:") for key in evidence["weights"])
    assert evidence["facts_weight"] == 0
    assert evidence["specific_names"] == 0
