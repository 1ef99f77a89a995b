"""Tagging: golden tag sets for the seeds, properties, and known traps.

Regenerate the goldens after a deliberate change with
TAG_GOLDEN_UPDATE=1 .venv/bin/pytest tests/unit/test_tag.py, then read the
diff by eye for false positives.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.pipeline.normalize import Normalized, RawDocument, matching_form, normalize
from services.pipeline.tag import TAXONOMY_VERSION, Tag, load_gazetteer, person_id, tag

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
GOLDEN = ROOT / "tests" / "golden" / "tags"
LANGUAGES = {"000": "en", "001": "ar", "002": "en", "003": "en", "004": "en"}


def seed(prefix: str) -> Normalized:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return normalize(RawDocument(content=path.read_text(encoding="utf-8")))


def doc(text: str, title: str | None = None) -> Normalized:
    return Normalized(
        text=text,
        title=title,
        byline=None,
        published_at=None,
        source=None,
        matching_text=matching_form(text),
    )


def ids(tags: list[Tag], kind: str | None = None) -> set[str]:
    return {t.id for t in tags if kind is None or t.kind == kind}


@pytest.mark.parametrize("prefix", sorted(LANGUAGES))
def test_seed_tags_match_golden(prefix: str) -> None:
    tags = tag(seed(prefix), LANGUAGES[prefix])
    found = sorted(t.id for t in tags if t.kind != "keyword")
    path = GOLDEN / f"{prefix}.json"
    if os.environ.get("TAG_GOLDEN_UPDATE"):
        record = {
            "language": LANGUAGES[prefix],
            "ids": found,
            "keywords": [t.id for t in tags if t.kind == "keyword"],
        }
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert found == golden["ids"]
    assert 1 <= len(ids(tags, "keyword")) <= 8


def test_translation_pair_shares_language_independent_tags() -> None:
    english, arabic = tag(seed("000"), "en"), tag(seed("001"), "ar")
    required = {"country:KZ", "country:EG", "org:oic", "topic:gender-equality"}
    assert required <= ids(english)
    assert required <= ids(arabic)
    people = ids(english, "person")
    assert people == ids(arabic, "person")
    assert {"person:krt-rm-srb", "person:ksm-jmrt-tkb"} <= people
    shared = {i for i in ids(english) & ids(arabic) if not i.startswith(("keyword:", "lang:"))}
    assert shared == ids(english) - ids(english, "keyword") - {"lang:en"}


def test_tags_are_sorted_unique_versioned_and_point_into_the_text() -> None:
    normalized = seed("002")
    tags = tag(normalized, "en")
    assert [t.id for t in tags] == sorted({t.id for t in tags})
    assert all(t.version == TAXONOMY_VERSION for t in tags)
    for t in tags:
        for start, end in t.offsets:
            assert 0 <= start < end <= len(normalized.text)
    kz = next(t for t in tags if t.id == "country:KZ")
    assert {normalized.text[a:b] for a, b in kz.offsets} == {"Kazakhstan", "Kazakh"}
    assert kz.label == "Kazakhstan"
    assert kz.evidence and "Kazakhstan" in kz.evidence


def test_labels_are_english_with_the_document_language_beside_them() -> None:
    arabic = {t.id: t for t in tag(seed("001"), "ar")}
    assert arabic["country:EG"].label == "Egypt"
    assert arabic["country:EG"].label_local == "مصر"
    assert arabic["org:oic"].label_local == "منظمة التعاون الإسلامي"
    assert arabic["lang:ar"].label == "Arabic"
    english = {t.id: t for t in tag(seed("000"), "en")}
    assert english["country:EG"].label_local is None


def test_a_tag_is_stored_with_every_field_as_json() -> None:
    tags = tag(seed("000"), "en")
    assert tags
    for found in tags:
        stored = found.to_json()
        assert list(stored) == [f.name for f in dataclasses.fields(Tag)]
        assert json.loads(json.dumps(stored)) == json.loads(json.dumps(dataclasses.asdict(found)))


def test_gazetteer_version_is_the_taxonomy_version() -> None:
    assert load_gazetteer().version == TAXONOMY_VERSION


def test_importing_loads_no_data() -> None:
    code = (
        "import services.pipeline.tag as t; import services.pipeline.text.stems as s; "
        "assert t.load_gazetteer.cache_info().currsize == 0; "
        "assert s.variants.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize(
    ("text", "language", "absent"),
    [
        ("We roasted a turkey for the Union members of the club.", "en", {"country:TR", "org:eu"}),
        ("She bought china plates and a jersey in New Jersey.", "en", {"country:CN", "country:JE"}),
        ("Latin American leaders met at the Indian Ocean.", "en", {"country:US", "country:IN"}),
        ("Того же мнения придерживается советник.", "ru", {"country:TG"}),
        (
            "أعلنت الوزارة عن الدعم المالي والمالية العامة في عمان.",
            "ar",
            {"country:ML", "country:OM"},
        ),
        ("The human rights council of the school met.", "en", {"org:unhrc"}),
    ],
)
def test_common_words_do_not_tag(text: str, language: str, absent: set[str]) -> None:
    assert not absent & ids(tag(doc(text), language))


@pytest.mark.parametrize(
    ("text", "language", "present"),
    [
        ("Turkey and the European Union signed a deal in Ankara.", "en", {"country:TR", "org:eu"}),
        (
            "Казахстанская делегация посетила Египет вместе с ООН.",
            "ru",
            {"country:KZ", "country:EG", "org:un"},
        ),
        (
            "وصل الوفد الكازاخستاني إلى القاهرة بدعوة من الأمم المتحدة.",
            "ar",
            {"country:KZ", "org:un"},
        ),
        ("والتقى وزير الخارجية الكازاخستاني بالسفير المصري.", "ar", {"country:KZ", "country:EG"}),
        (
            "The Kazakh and Turkmen delegations met NATO and WHO officials.",
            "en",
            {"country:KZ", "country:TM", "org:nato", "org:who"},
        ),
    ],
)
def test_names_adjectives_and_inflections_tag(text: str, language: str, present: set[str]) -> None:
    assert present <= ids(tag(doc(text), language))


def test_cities_count_only_when_configured() -> None:
    text = "The delegation arrived in Cairo and went on to Almaty."
    assert not ids(tag(doc(text), "en"), "country")
    with_cities = tag(doc(text), "en", load_gazetteer(include_cities=True))
    assert {"country:EG", "country:KZ"} <= ids(with_cities, "country")


def test_unknown_acronyms_are_kept_as_candidates() -> None:
    tags = {t.id: t for t in tag(doc("The FOOBAR agency and the UN met. GMT noon."), "en")}
    assert "acronym:FOOBAR" in tags
    assert tags["acronym:FOOBAR"].score < 1
    assert "org:un" in tags
    assert "acronym:GMT" not in tags
    shouting = tag(doc("BREAKING NEWS ABOUT THE ZZZ CRISIS"), "en")
    assert not ids(shouting, "acronym")


def test_topic_needs_two_mentions_or_one_in_the_title() -> None:
    once = "The minister spoke about roads. Gender equality was mentioned once."
    assert "topic:gender-equality" not in ids(tag(doc(once), "en"))
    twice = once + " Gender equality again."
    assert "topic:gender-equality" in ids(tag(doc(twice), "en"))
    titled = tag(doc("The minister spoke about roads.", title="Gender equality now"), "en")
    assert "topic:gender-equality" in ids(titled)


@pytest.mark.parametrize(
    ("names"),
    [
        ("Kairat Lama Sharif", "خيرات لاما شريف"),
        ("Kassym-Jomart Tokayev", "قاسم جومارت توكاييف", "Касым-Жомарт Токаев"),
        ("Madina Dzharpusinova", "مادينا دزهاربوسينوفا"),
        ("Afnan Al-Shuaibi", "أفنان الشعيبي"),
        ("Yerlan Alimbayev", "Ерлан Алимбаев"),
        ("Khalid", "Halid", "خالد"),
    ],
)
def test_person_ids_collide_across_transliterations(names: tuple[str, ...]) -> None:
    assert len({person_id(name) for name in names}) == 1


def test_people_are_found_by_cues() -> None:
    text = (
        "Ambassador Yerlan Alimbayev spoke first. "
        "The talks were opened by Tatiana Molcean, Executive Secretary of UNECE. "
        '"We agree," said Martin Chungong, who chairs the board. '
        "The Head of the office, Daniya Yespayeva, closed the session."
    )
    people = ids(tag(doc(text), "en"), "person")
    expected = {"Yerlan Alimbayev", "Tatiana Molcean", "Martin Chungong", "Daniya Yespayeva"}
    assert people == {f"person:{person_id(n)}" for n in expected}
    russian = ids(tag(doc("Посол Ерлан Алимбаев выступил на сессии."), "ru"), "person")
    assert russian == {f"person:{person_id('Yerlan Alimbayev')}"}


def test_a_surname_after_a_title_joins_the_full_name() -> None:
    text = "Permanent Representative Yerlan Alimbayev spoke. Later Ambassador Alimbayev left."
    (person,) = [t for t in tag(doc(text), "en") if t.kind == "person"]
    assert len(person.offsets) == 2


def test_empty_and_odd_documents() -> None:
    assert ids(tag(doc(""), "und")) == {"lang:und"}
    assert ids(tag(doc("   \n\n  "), "")) == {"lang:und"}
    assert "lang:xx" in ids(tag(doc("x"), "xx"))


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(max_size=400),
    title=st.none() | st.text(max_size=60),
    language=st.sampled_from(["en", "ar", "ru", "kk", "und", "zz", ""]),
)
def test_tagging_never_fails(text: str, title: str | None, language: str) -> None:
    tags = tag(doc(text, title), language)
    assert [t.id for t in tags] == sorted({t.id for t in tags})
    assert sum(t.kind == "keyword" for t in tags) <= 8
    assert all(0 <= a < b <= len(text) for t in tags for a, b in t.offsets)


WORDS = st.sampled_from(
    [
        "Kazakhstan",
        "Egypt",
        "UN",
        "OIC",
        "Ambassador",
        "President",
        "said",
        ",",
        ".",
        "،",
        "السفير",
        "كازاخستان",
        "مصر",
        "الأمم",
        "المتحدة",
        "посол",
        "Казахстан",
        "ООН",
        "Turkey",
        "turkey",
        "Kassym-Jomart",
        "Tokayev",
        "Al-",
        "al",
        "gender",
        "equality",
        "المساواة",
        "بين",
        "الجنسين",
        "ABC",
        "\n\n",
        "’s",
        "ً",
        "ـ",
        "ﻻ",
        "ß",
        "İ",
    ]
)


@settings(deadline=None, max_examples=300)
@given(words=st.lists(WORDS, max_size=60), language=st.sampled_from(["en", "ar", "ru", "und"]))
def test_tagging_never_fails_on_gazetteer_words(words: list[str], language: str) -> None:
    text = " ".join(words)
    tags = tag(doc(text), language)
    for t in tags:
        for start, end in t.offsets:
            assert text[start:end].strip()
