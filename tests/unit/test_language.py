"""Language detection: news languages, short and mixed texts, hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.pipeline.language import UNDETERMINED, LanguageGuess, detect_language, load_detector

ROOT = Path(__file__).resolve().parents[2]

SAMPLES = {
    "kk": "Қазақстан Республикасының Президенті Қасым-Жомарт Тоқаев Ақордада Біріккен Ұлттар "
    "Ұйымының Бас хатшысын қабылдады. Кездесу барысында тараптар өңірлік қауіпсіздік, "
    "климаттың өзгеруі және тұрақты даму мәселелерін талқылады.",
    "ru": "Президент Казахстана Касым-Жомарт Токаев принял в Акорде генерального секретаря "
    "Организации Объединённых Наций. В ходе встречи стороны обсудили вопросы региональной "
    "безопасности, изменения климата и устойчивого развития.",
    "ky": "Кыргыз Республикасынын Президенти Садыр Жапаров бүгүн Бишкекте Бириккен Улуттар "
    "Уюмунун өкүлдөрү менен жолугушту. Жолугушууда тараптар аймактык коопсуздук жана "
    "туруктуу өнүгүү маселелерин талкуулашты.",
    "uk": "Президент України провів зустріч із генеральним секретарем Організації Об'єднаних "
    "Націй. Сторони обговорили питання регіональної безпеки та зміни клімату.",
    "ar": "استقبل رئيس كازاخستان الأمين العام للأمم المتحدة في أستانا، وبحث الجانبان قضايا الأمن "
    "الإقليمي وتغير المناخ والتنمية المستدامة.",
    "fa": "رئیس جمهور قزاقستان امروز با دبیرکل سازمان ملل متحد دیدار و درباره امنیت منطقه‌ای و "
    "تغییرات اقلیمی گفتگو کرد.",
    "en": "The President of Kazakhstan received the Secretary-General of the United Nations in "
    "Astana. The two sides discussed regional security and climate change.",
    "fr": "Le président du Kazakhstan a reçu le secrétaire général des Nations unies à Astana. "
    "Les deux parties ont discuté de la sécurité régionale et du changement climatique.",
    "de": "Der Präsident Kasachstans hat den Generalsekretär der Vereinten Nationen in Astana "
    "empfangen. Beide Seiten erörterten Fragen der regionalen Sicherheit und des Klimawandels.",
    "es": "El presidente de Kazajistán recibió al secretario general de las Naciones Unidas en "
    "Astaná. Ambas partes discutieron la seguridad regional y el cambio climático.",
    "tr": "Kazakistan Cumhurbaşkanı, Birleşmiş Milletler Genel Sekreterini Astana'da kabul etti. "
    "Taraflar bölgesel güvenlik ve iklim değişikliği konularını görüştü.",
    "uz": "Oʻzbekiston Respublikasi Prezidenti Shavkat Mirziyoyev bugun Toshkentda Birlashgan "
    "Millatlar Tashkiloti vakillari bilan uchrashdi.",
    "zh": "哈萨克斯坦总统托卡耶夫今天在阿斯塔纳会见了联合国秘书长，"
    "双方讨论了地区安全和气候变化问题。",
}


@pytest.mark.parametrize(("code", "text"), SAMPLES.items(), ids=SAMPLES.keys())
def test_news_language_is_detected(code: str, text: str) -> None:
    guess = detect_language(text)
    assert guess.code == code
    assert guess.confidence >= 0.9


def test_kazakh_is_not_mistaken_for_russian_with_a_russian_hint() -> None:
    assert detect_language(SAMPLES["kk"], "ru").code == "kk"


@pytest.mark.parametrize(("seed", "code"), [("000", "en"), ("001", "ar"), ("002", "en")])
def test_seed_language(seed: str, code: str) -> None:
    (path,) = (ROOT / "seeds").glob(f"{seed}_*.txt")
    assert detect_language(path.read_text(encoding="utf-8"), "fr").code == code


@pytest.mark.parametrize("text", ["", "   ", "Hello", "OK, thanks!", "12 345 678 / 2024"])
def test_too_short_is_undetermined_whatever_the_hint(text: str) -> None:
    undetermined = LanguageGuess(UNDETERMINED, 0.0)
    assert detect_language(text, "en") == detect_language(text) == undetermined


def test_half_english_half_french_is_mixed() -> None:
    text = "\n".join([SAMPLES["en"], SAMPLES["fr"], SAMPLES["en"], SAMPLES["fr"]])
    assert detect_language(text).code == UNDETERMINED
    assert detect_language(text, "fr-FR").code == "fr"
    assert detect_language(text, "de").code == UNDETERMINED


def test_half_arabic_half_russian_is_mixed() -> None:
    text = f"{SAMPLES['ar']} {SAMPLES['ru']}"
    assert detect_language(text).code == UNDETERMINED
    assert detect_language(text, "ru").code == "ru"
    assert detect_language(text, "ar").code == "ar"
    assert detect_language(text, "kk").code == UNDETERMINED


def test_one_quoted_paragraph_does_not_make_a_text_mixed() -> None:
    text = "\n".join([SAMPLES["en"], SAMPLES["de"], SAMPLES["en"], SAMPLES["en"], SAMPLES["en"]])
    assert detect_language(text).code == "en"
    text = "\n".join([SAMPLES["kk"], SAMPLES["kk"], SAMPLES["kk"], SAMPLES["kk"], SAMPLES["ar"]])
    assert detect_language(text).code == "kk"


def test_hint_code_is_read_loosely() -> None:
    text = "\n".join([SAMPLES["kk"], SAMPLES["ru"]])
    assert detect_language(text, "KK_kz").code == "kk"


def test_detector_loads_once() -> None:
    assert load_detector() is load_detector()
    assert "kk" in load_detector().candidates


@settings(max_examples=100, deadline=None)
@given(text=st.text(), hint=st.one_of(st.none(), st.text(max_size=8)))
def test_any_text_gives_a_candidate_or_und(text: str, hint: str | None) -> None:
    guess = detect_language(text, hint)
    assert guess.code in load_detector().candidates | {UNDETERMINED}
    assert 0.0 <= guess.confidence <= 1.0
