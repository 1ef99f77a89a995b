"""The one name key: tagging and matching give a name the same key."""

from __future__ import annotations

import pytest

from services.pipeline.fingerprint import fingerprint
from services.pipeline.normalize import RawDocument, normalize
from services.pipeline.tag import person_id, tag
from services.pipeline.text.scripts import script_of
from services.pipeline.text.skeleton import SCRIPT_REPAIRS, name_key, skeleton

TEXTS = {
    "en": (
        "President of Kazakhstan Kassym-Jomart Tokayev met the delegation in Astana. "
        "Tokayev said the talks with the ministers went well, and Tokayev thanked them."
    ),
    "ru": (
        "Президент Казахстана Касым-Жомарт Токаев встретился с делегацией в Астане. "
        "Как сказал Токаев, переговоры прошли успешно, и Токаев поблагодарил министров."
    ),
}


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_a_name_gets_the_same_key_in_tags_and_in_match_keys(language: str) -> None:
    normalized = normalize(RawDocument(content=TEXTS[language], title="Astana"))
    tags = tag(normalized, language)
    assert "person:ksm-jmrt-tkb" in {t.id for t in tags}
    found = fingerprint(normalized, language, tags)
    assert "s:tkb" in found.data["ev"]
    assert "w:tkb" in found.keys


@pytest.mark.parametrize("name", ["Tokayev", "Токаев", "Тоқаев", "توكاييف"])
def test_tokayev_has_one_key_in_every_script(name: str) -> None:
    assert skeleton(name) == name_key(name) == person_id(name) == "tkb"


def test_a_person_key_is_the_skeletons_of_its_words() -> None:
    assert name_key("Kassym-Jomart Tokayev") == "-".join(
        skeleton(word) for word in ("Kassym", "Jomart", "Tokayev")
    )
    assert name_key("Afnan Al-Shuaibi") == name_key("أفنان الشعيبي")


def test_every_script_repair_is_keyed_by_a_script_name() -> None:
    samples = {
        "cyrillic": "Катаром",
        "hebrew": "דוד",
        "devanagari": "इंटरनेट",
        "greek": "Μπους",
        "kana": "トランプ",
        "hangul": "잭슨",
    }
    assert set(SCRIPT_REPAIRS) == set(samples)
    for script, word in samples.items():
        assert script_of(word) == script


@pytest.mark.parametrize(
    ("latin", "written"),
    [
        ("Bush", "Μπους"),
        ("Dallas", "Ντάλας"),
        ("Gallup", "Γκάλοπ"),
        ("Jackson", "Τζάκσον"),
        ("Lambros", "Λάμπρος"),
        ("Trump", "Τραμπ"),
        ("Trump", "トランプ"),
        ("Thompson", "トンプソン"),
        ("Clinton", "クリントン"),
        ("Scotland", "スコットランド"),
        ("Trump", "트럼프"),
        ("Jackson", "잭슨"),
        ("Clinton", "클린턴"),
    ],
)
def test_greek_kana_and_hangul_names_meet_their_latin_spelling(latin: str, written: str) -> None:
    assert skeleton(written) == skeleton(latin)


def test_l_and_r_are_one_letter_of_the_key() -> None:
    assert skeleton("Clinton") == skeleton("Crinton") == "krnt"


def test_a_medial_greek_digraph_keeps_its_nasal() -> None:
    assert skeleton("Λάμπρος") == skeleton("Lambros") != skeleton("Labros")


def test_l_becomes_r_after_doubled_letters_merge() -> None:
    assert skeleton("Nasrallah") == skeleton("Насралла") == "nsrr"
