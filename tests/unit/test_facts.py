"""Dates and numbers in every supported script give the English original's keys."""

from __future__ import annotations

import pytest

from services.pipeline.fingerprint import fingerprint
from services.pipeline.normalize import RawDocument, normalize

ENGLISH = "The vote on 6 October 2018 cost 250 million dollars, 3.5 percent, 12,500 people."
KEYS = {"d:10-06", "m:2018-10", "n:250000000", "n:3.5", "n:12500"}


def facts_of(text: str, language: str) -> set[str]:
    normalized = normalize(RawDocument(content=text, language=language))
    found = fingerprint(normalized, language, []).data.get("ev") or {}
    return {k for k in found if k[:2] in ("d:", "m:", "n:")}


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh", "2018年10月6日的投票花费了2.5亿美元，3.5%，12500人。"),
        ("ja", "2018年10月6日の投票は2億5000万ドル、3.5％、1万2500人。"),
        ("ja", "２０１８年１０月６日の投票は２億５０００万ドル、３．５％、１万２５００人。"),
        ("ko", "2018년 10월 6일 투표에는 2억 5천만 달러, 3.5%, 1만 2500명."),
        ("th", "การลงคะแนนเมื่อวันที่ 6 ตุลาคม 2018 ใช้เงิน 250 ล้านดอลลาร์ 3.5% 12,500 คน"),
        ("vi", "Cuộc bỏ phiếu ngày 6 tháng 10 năm 2018 tốn 250 triệu đô la, 3,5%, 12.500 người."),
        ("id", "Pemungutan suara pada 6 Oktober 2018 menelan 250 juta dolar, 3,5 persen, 12.500."),
        ("el", "Η ψηφοφορία στις 6 Οκτωβρίου 2018 κόστισε 250 εκατ. δολάρια, 3,5%, 12.500 άτομα."),
        ("pl", "Głosowanie 6 października 2018 kosztowało 250 mln zł, 3,5 proc., 12 500 osób."),
        ("pt", "A votação em 6 de outubro de 2018 custou 250 milhões de dólares, 3,5%, 12.500."),
        ("it", "Il voto del 6 ottobre 2018 è costato 250 milioni di euro, 3,5%, 12.500 persone."),
        ("hi", "6 अक्टूबर 2018 को मतदान में 250 मिलियन डॉलर, 3.5%, 12,500 लोग।"),
        ("fa", "رأی‌گیری در ۶ اکتبر ۲۰۱۸ هزینه ۲۵۰ میلیون دلار، ۳٫۵٪، ۱۲٬۵۰۰ نفر."),
        ("ar", "التصويت في 6 أكتوبر 2018 كلف 250 مليون دولار، 3.5%، 12,500 شخص."),
        ("he", "ההצבעה ב-6 באוקטובר 2018 עלתה 250 מיליון דולר, 3.5%, 12,500 איש."),
        ("bn", "২০১৮ সালের ৬ অক্টোবর ভোটে ২৫০ মিলিয়ন ডলার, ৩.৫ শতাংশ, ১২,৫০০ জন।"),
        ("ur", "6 اکتوبر 2018 کو ووٹنگ پر 25 کروڑ ڈالر، 3.5 فیصد، 12,500 افراد۔"),
        ("uk", "Голосування 6 жовтня 2018 року коштувало 250 мільйонів доларів, 3,5%, 12 500."),
        ("el", "Η ψηφοφορία της 6ης Οκτωβρίου 2018 κόστισε 250 εκατομμύρια δολάρια, 3,5%, 12.500."),
        ("tr", "6 Ekim 2018'deki oylama 250 milyon dolara, yüzde 3,5'e, 12.500 kişiye mal oldu."),
    ],
)
def test_a_translation_states_the_originals_dates_and_numbers(language: str, text: str) -> None:
    assert facts_of(ENGLISH, "en") >= KEYS
    assert facts_of(text, language) >= KEYS


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "The budget is 2.5 billion dollars."),
        ("hi", "बजट 2.5 अरब डॉलर है।"),
        ("ur", "بجٹ 2.5 ارب ڈالر ہے۔"),
        ("bn", "বাজেট ২.৫ বিলিয়ন ডলার।"),
        ("uk", "Бюджет становить 2,5 мільярда доларів."),
    ],
)
def test_a_billion_scales_the_number_in_every_language(language: str, text: str) -> None:
    assert "n:2500000000" in facts_of(text, language)


def test_cjk_numbers_in_parts_add_up() -> None:
    assert "n:250000000" in facts_of("予算は2億5000万ドル。", "ja")
    assert "n:12500" in facts_of("1만 2500명이 모였다.", "ko")
    assert "n:200000000" not in facts_of("予算は2億5000万ドル。", "ja")


def test_cjk_parts_out_of_order_are_no_compound() -> None:
    assert "n:50002" not in facts_of("5万2億", "ja")
