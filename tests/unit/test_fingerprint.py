"""Fingerprints: hashes, MinHash band keys and evidence that survives translation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from services.pipeline.fingerprint import Fingerprint, FingerprintSettings, fingerprint
from services.pipeline.matching.evidence import evidence_weight
from services.pipeline.matching.minhash import minhash, shingle_hashes
from services.pipeline.normalize import RawDocument, normalize
from services.pipeline.text.skeleton import skeleton

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def fingerprint_of(content: str, language: str = "en", title: str | None = None) -> Fingerprint:
    return fingerprint(normalize(RawDocument(content=content, title=title)), language, [])


def evidence_of(content: str, language: str = "en") -> dict[str, float]:
    return fingerprint_of(content, language, title="Title").data["ev"]


def seed(number: str) -> str:
    return next(SEEDS.glob(f"{number}_*.txt")).read_text(encoding="utf-8")


def test_identical_texts_share_the_content_hash() -> None:
    a, b = fingerprint_of(seed("000")), fingerprint_of(seed("000"))
    assert a.content_hash == b.content_hash
    assert a == b
    assert fingerprint_of(seed("003")).content_hash != a.content_hash


def test_data_is_json_serializable() -> None:
    fp = fingerprint_of(seed("001"), "ar")
    assert json.loads(json.dumps(fp.data)) == fp.data


def test_minhash_equals_datasketch_legacy_minhash() -> None:
    config = FingerprintSettings()
    text = normalize(RawDocument(content=seed("000"))).matching_text
    hashes = shingle_hashes(text, config.shingle_size)
    reference = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=int, scheme="legacy")
    reference.update_batch([int(h) for h in hashes])
    signature, count = minhash(text, config)
    assert count == len(hashes) > 300
    assert np.array_equal(signature, reference.hashvalues)


def test_evidence_keys_are_bounded_and_of_known_kinds() -> None:
    fp = fingerprint_of(seed("000"))
    evidence_keys = [k for k in fp.keys if not k.startswith("cs:")]
    assert evidence_keys
    assert len(fp.keys) <= 108
    kinds = {key.partition(":")[0] for key in evidence_keys}
    assert kinds <= {"n3", "n2", "n1", "ev", "nm", "nn", "w", "tg"}
    assert "w" in kinds
    for key in evidence_keys:
        kind, _, value = key.partition(":")
        if kind not in {"n1", "w"}:
            assert len(value.split("|")) >= 2


def test_a_translation_shares_single_keys_where_it_shares_no_combination() -> None:
    english = fingerprint_of("The Stavropol administration warned of 4000 internet frauds.")
    russian = fingerprint_of(
        "Администрация Ставрополя предупредила о 4000 интернет-мошенничеств.", "ru"
    )
    assert {"n1:4000", "w:stbr"} <= set(english.keys) & set(russian.keys)


def test_lexical_skeletons_keep_loanwords_and_names_in_text_order() -> None:
    english = fingerprint_of("Internet technologies and the administration of Putin.")
    russian = fingerprint_of("Интернет-технологии и администрация Путина.", "ru")
    assert english.data["lx"].split() == ["ntrn", "tknr", "dmns", "btn"]
    assert russian.data["lx"].split() == ["ntrn", "tknr", "dmns", "btn"]


def test_han_and_kana_phrases_give_only_their_katakana_words() -> None:
    assert fingerprint_of("価値25億ドルのインターネット協力", "ja").data["lx"] == "ntnt"
    assert fingerprint_of("价值25亿美元的互联网合作", "zh").data["lx"] == ""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("It cost 1,000 dollars.", "1000"),
        ("Это стоило 1 000 долларов.", "1000"),
        ("Es kostete 1.000 Euro.", "1000"),
        ("Cela a coûté 1\u202f000 euros.", "1000"),
        ("Inflation reached 2,5% in May.", "2.5"),
        ("Inflation reached 2.5 percent in May.", "2.5"),
        ("About 1.5 million people voted.", "1500000"),
        ("Проголосовали около 1,5 млн человек.", "1500000"),
        ("صوت نحو 1.5 مليون شخص.", "1500000"),
        ("بلغ الخفض ٣٫٦٦ مليون برميل", "3.66"),
        ("في عام ٢٠٢٥ المقبل", "2025"),
        ("They sold 12,345,678 copies.", "12345678"),
        ("价值25亿美元", "2500000000"),
        ("25억 달러 규모", "2500000000"),
        ("5万人が参加した", "50000"),
        ("3 करोड़ लोग", "30000000"),
    ],
)
def test_numbers_are_canonical(text: str, value: str) -> None:
    assert "n:" + value in evidence_of(text)


def test_single_digits_and_clock_times_are_not_evidence() -> None:
    keys = evidence_of("Five people, or 5 in all, met at 18:53 on a quiet day.")
    assert not [k for k in keys if k.startswith("n:")]


@pytest.mark.parametrize(
    "text",
    [
        "The vote is scheduled for June 7, 2024.",
        "The vote is scheduled for 7th June 2024.",
        "Голосование назначено на 7 июня 2024 года.",
        "ومن المقرر أن يقام التصويت في 7 يونيو 2024.",
        "ومن المقرر أن يقام التصويت في ٧ حزيران ٢٠٢٤.",
        "Die Abstimmung ist für den 7. Juni 2024 angesetzt.",
        "La votación está prevista para el 7 de junio de 2024.",
        "Le vote est prévu le 7 juin 2024.",
        "Дауыс беру 2024 жылғы 7 маусымда өтеді.",
        "投票定于2024年6月7日举行。",
        "The vote is scheduled for 07.06.2024.",
        "The vote is scheduled for 2024-06-07.",
    ],
)
def test_dates_become_month_day_and_year_month(text: str) -> None:
    keys = evidence_of(text)
    assert "d:06-07" in keys
    assert "m:2024-06" in keys


@pytest.mark.parametrize("text", ["投票定于6月7日举行。", "투표는 6월 7일에 열린다."])
def test_a_cjk_month_day_without_a_year_is_a_day(text: str) -> None:
    keys = evidence_of(text)
    assert "d:06-07" in keys
    assert not [k for k in keys if k.startswith("m:")]


def test_a_cjk_month_alone_is_not_a_date() -> None:
    assert not [k for k in evidence_of("投票定于6月举行。") if k.startswith(("d:", "m:"))]


def test_may_without_a_number_is_not_a_date() -> None:
    keys = evidence_of("Officials may decide later whether the plan may go ahead.")
    assert not [k for k in keys if k.startswith(("d:", "m:"))]


@pytest.mark.parametrize(
    "words",
    [
        ("Tokayev", "Токаев", "Тоқаев", "توكاييف"),
        ("Khabarovsk", "Хабаровского", "Хабаровском"),
        ("Kairat", "خيرات"),
        ("Putin", "Путин", "Путиным", "بوتين", "Πούτιν", "פוטין", "पुतिन", "푸틴", "푸틴은"),
        ("internet", "интернет", "इंटरनेट", "اینترنت", "אינטרנט"),
        ("Philippines", "Филиппины"),
    ],
)
def test_name_skeletons_survive_transliteration(words: tuple[str, ...]) -> None:
    assert len({skeleton(word) for word in words}) == 1


def test_names_come_from_capitalised_words_not_sentence_starts() -> None:
    keys = evidence_of("Yesterday the minister met Degtyarev. Yesterday he met Furgal again.")
    assert "s:" + skeleton("Degtyarev") in keys
    assert "s:" + skeleton("Yesterday") not in keys


def test_a_hyphenated_name_keeps_its_second_word_but_a_dash_starts_a_clause() -> None:
    keys = evidence_of("The call came, said Mrs Ednan-Laperouse. It was late - Later still.")
    assert "s:" + skeleton("Laperouse") in keys
    assert "s:" + skeleton("Later") not in keys


def test_a_katakana_name_keeps_its_voiced_consonants() -> None:
    keys = evidence_of("ラペルーズさんはドナルド氏に会った。", "ja")
    assert {"s:" + skeleton("Laperouse"), "s:" + skeleton("Donald")} <= set(keys)


def test_evidence_weight_ranks_specific_facts_higher() -> None:
    assert evidence_weight("n:2024") < evidence_weight("n:452") < evidence_weight("n:30210")
    assert evidence_weight("m:2024-06") < evidence_weight("d:06-07")


def test_fingerprint_data_carries_no_vector() -> None:
    # Vectors are stored apart (storage.vectors), not in the JSON data.
    normalized = normalize(RawDocument(content=seed("003")))
    assert "emb" not in fingerprint(normalized, "en", []).data


@settings(max_examples=150, deadline=None)
@given(
    content=st.text(max_size=400),
    title=st.one_of(st.none(), st.text(max_size=40)),
    language=st.sampled_from(["en", "ar", "ru", "und", ""]),
)
def test_fingerprint_never_raises_and_is_deterministic(
    content: str, title: str | None, language: str
) -> None:
    normalized = normalize(RawDocument(content=content, title=title))
    first = fingerprint(normalized, language, [])
    assert first == fingerprint(normalized, language, [])
    assert json.loads(json.dumps(first.data)) == first.data


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["1,5", "2 000", "7", "June", "июня", "يونيو", "2024", "Putin", "٣٫٦"]),
        max_size=30,
    )
)
def test_fingerprint_handles_number_and_date_soup(words: list[str]) -> None:
    fingerprint_of(" ".join(words))


def test_names_of_an_untitled_texts_first_paragraph_count() -> None:
    # Crawled text often runs the headline into one paragraph with no title:
    # that paragraph is prose, and the names inside its sentences are names.
    text = "Armin Laschet visited Gütersloh on Monday. The governor met Clemens Tönnies there."
    untitled = fingerprint_of(text).data["ev"]
    titled = fingerprint_of(text, title="Visit to Gütersloh").data["ev"]
    names = {key for key in titled if key.startswith("s:")}
    assert names
    assert names <= set(untitled)
