"""Normalization: golden files, repair and extraction rules, and properties."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.pipeline.language import detect_language
from services.pipeline.normalize import (
    Normalized,
    RawDocument,
    Rules,
    load_rules,
    matching_form,
    normalize,
)
from services.pipeline.text.repair import repair

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
GOLDEN = ROOT / "tests" / "golden"
PAGES = sorted((GOLDEN / "html").glob("*.html"))


def _record(normalized: Normalized, hint: str | None = None) -> dict[str, object]:
    published = normalized.published_at
    return {
        "title": normalized.title,
        "byline": normalized.byline,
        "published_at": published.isoformat() if published else None,
        "source": normalized.source,
        "language": detect_language(normalized.text, hint).code,
        "body": normalized.paragraphs,
    }


def _expected(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _again(n: Normalized) -> Normalized:
    return normalize(
        RawDocument(
            n.text, title=n.title, byline=n.byline, published_at=n.published_at, source=n.source
        )
    )


# Golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem[:3])
def test_seed_matches_its_golden_file(seed: Path) -> None:
    normalized = normalize(RawDocument(seed.read_text(encoding="utf-8")))
    assert _record(normalized) == _expected(GOLDEN / "normalize" / f"{seed.stem}.json")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_html_page_matches_its_golden_file(page: Path) -> None:
    raw = RawDocument(page.read_text(encoding="utf-8"), content_type="text/html; charset=utf-8")
    assert _record(normalize(raw)) == _expected(page.with_suffix(".json"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_html_page_has_the_body_of_its_seed(page: Path) -> None:
    (seed,) = (GOLDEN / "normalize").glob(f"{page.name[:3]}_*.json")
    assert _expected(page.with_suffix(".json"))["body"] == _expected(seed)["body"]


def test_golden_facts_read_by_eye() -> None:
    by_seed = {p.name[:3]: _expected(p) for p in (GOLDEN / "normalize").glob("*.json")}
    assert by_seed["000"]["byline"] == "Manal Abdel Fattah"
    assert by_seed["001"]["published_at"] == "2024-06-03T00:00:00+00:00"
    assert by_seed["001"]["source"] == "بوابة الفجر"
    assert by_seed["002"]["published_at"] == "2024-10-24T18:53:00"
    assert by_seed["002"]["title"] not in by_seed["002"]["body"]
    body_004 = " ".join(by_seed["004"]["body"])  # type: ignore[arg-type]
    assert body_004.count("In previous years, the Dialogue was chaired") == 1
    for record in by_seed.values():
        body = "\n".join(record["body"])  # type: ignore[arg-type]
        for chrome in ("Related Articles", "Back to top", "Subscribe", "المصدر", "كلمات دلالية"):
            assert chrome not in body


# Repair ----------------------------------------------------------------------------


def test_mojibake_is_fixed() -> None:
    latin = "Kazakhstan’s “gender” policy.".encode().decode("latin-1")
    cyrillic = "Президент Казахстана провёл встречу.".encode().decode("cp1251")
    text = normalize(RawDocument(f"{latin}\n\n{cyrillic}")).text
    assert text == 'Kazakhstan\'s "gender" policy.\n\nПрезидент Казахстана провёл встречу.'


def test_text_is_nfc_without_invisible_characters() -> None:
    raw = "\ufeffCafe\u0301 \u200bdu\u00ad monde\u202e\u200f.\x07"
    assert normalize(RawDocument(raw)).text == "Café du monde."


def test_persian_zero_width_non_joiner_stays() -> None:
    assert "\u200c" in normalize(RawDocument("گفت‌وگوی منطقه‌ای درباره امنیت")).text


def test_whitespace_entities_and_quotes_are_normalized() -> None:
    raw = "  Fish\u00a0&amp;\tchips \u2018today\u2019\u2003 \u201cnow\u201d.  \r\n\r\n\r\n  next "
    assert normalize(RawDocument(raw)).text == "Fish & chips 'today' \"now\".\n\nnext"


def test_hard_wrapped_lines_join_into_one_paragraph() -> None:
    raw = (
        "The ministers of the five Central Asian countries met in Almaty\n"
        "on Tuesday to discuss water sharing.\n\nA second paragraph."
    )
    assert normalize(RawDocument(raw)).paragraphs == [
        "The ministers of the five Central Asian countries met in Almaty on Tuesday to "
        "discuss water sharing.",
        "A second paragraph.",
    ]


# Matching form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Café DÉJÀ Vu", "cafe deja vu"),
        ("عام ٢٠٢٤ و۲۰۲۵", "عام 2024 و2025"),
        ("اجتماعًا عُقدت العـــربية", "اجتماعا عقدت العربية"),
        ("أحمد إلى آفاق", "احمد الي افاق"),
        ("الإسلامی بین", "الاسلامي بين"),
        ("ҚАЗАҚСТАН Ёлка", "қазақстан елка"),
        ("Straße  ﬁne\t x", "strasse fine x"),
        ("नमस्ते", "नमस्ते"),
    ],
)
def test_matching_form(text: str, form: str) -> None:
    assert matching_form(text) == form


def test_matching_text_is_never_the_text() -> None:
    n = normalize(RawDocument("Kazakhstan’s ÉLECTION on ٣ June"))
    assert n.text == "Kazakhstan's ÉLECTION on ٣ June"
    assert n.matching_text == "kazakhstan's election on 3 june"


# Chrome, metadata and repeats ------------------------------------------------------

BODY = (
    "The delegations discussed cooperation in trade, energy and transport, and agreed to "
    "meet again in the autumn to sign the agreements prepared by the working groups."
)
MORE = "The ministers also visited the new logistics hub, which opened on the border in May."


@pytest.mark.parametrize(
    "chrome",
    [
        "Share on Facebook",
        "Related Articles",
        "Back to top button",
        "Telegram Subscribe to our Telegram channel and be the first to know the news!",
        "Tags: Kazakhstan, Egypt",
        "Advertisement",
        "Подписывайтесь на наш Telegram-канал",
        "Читайте также:",
        "Теги: Казахстан, ООН",
        "Тағы оқыңыз:",
        "Дереккөз: Kazinform",
        "Тегтер: Қазақстан",
        "إقرأ أيضاً:",
        "اقرأ أيضا",
        "كلمات دلالية: مصر كازاخستان",
        "العودة إلى الأعلى",
        "Lire aussi",
        "Mehr zum Thema",
        "Lee también",
    ],
)
def test_chrome_line_is_removed(chrome: str) -> None:
    assert normalize(RawDocument(f"Headline\n{BODY}\n{chrome}")).paragraphs == [BODY]


@pytest.mark.parametrize("marker", ["Read also:", "Читайте также", "إقرأ أيضاً:", "Тағы оқыңыз:"])
def test_headlines_after_a_block_marker_go_until_body_text(marker: str) -> None:
    text = "\n".join(["Headline", BODY, marker, "Another story headline", "Yet another one", MORE])
    assert normalize(RawDocument(text)).paragraphs == [BODY, MORE]


@pytest.mark.parametrize(
    ("line", "byline"),
    [
        ("By Manal Abdel Fattah", "Manal Abdel Fattah"),
        ("Автор: Айгерим Сапарова", "Айгерим Сапарова"),
        ("Авторы: Ерлан Жақсылықов", "Ерлан Жақсылықов"),
        ("بقلم منال عبد الفتاح", "منال عبد الفتاح"),
        ("كتب: أحمد علي", "أحمد علي"),
        ("Par Jean Dupont", "Jean Dupont"),
        ("Von Anna Schmidt", "Anna Schmidt"),
    ],
)
def test_byline_is_taken_from_its_line(line: str, byline: str) -> None:
    n = normalize(RawDocument(f"Headline\n{line}\n{BODY}"))
    assert (n.byline, n.paragraphs) == (byline, [BODY])


def test_a_sentence_starting_with_by_is_not_a_byline() -> None:
    n = normalize(RawDocument(f"Headline\nBy the end of the year, prices rose.\n{BODY}"))
    assert n.byline is None
    assert n.paragraphs[0] == "By the end of the year, prices rose."


@pytest.mark.parametrize(
    ("line", "published_at"),
    [
        ("تاريخ النشر: 3rd, June 2024 GMT", datetime(2024, 6, 3, tzinfo=UTC)),
        ("Фото: MFA 24.10.2024 18:53 333", datetime(2024, 10, 24, 18, 53)),
        ("24.10.2024 18:53 MSK", datetime(2024, 10, 24, 15, 53, tzinfo=UTC)),
        ("24.10.2024 18:53 (GMT+5)", datetime(2024, 10, 24, 13, 53, tzinfo=UTC)),
        ("Опубликовано: 24 октября 2024, 18:53", datetime(2024, 10, 24, 18, 53)),
        ("Жарияланды: 2024 жылғы 24 қазан", datetime(2024, 10, 24)),
        ("Monday, 3 June 2024 | 02:20 PM", datetime(2024, 6, 3, 14, 20)),
        ("Published June 3, 2024 at 9:05 am UTC+3", datetime(2024, 6, 3, 6, 5, tzinfo=UTC)),
        ("Publié le 3 juin 2024 à 10h30", datetime(2024, 6, 3, 10, 30)),
        ("Veröffentlicht am 3. März 2024, 10:30 Uhr", datetime(2024, 3, 3, 10, 30)),
        ("Publicado el 3 de junio de 2024", datetime(2024, 6, 3)),
        ("الاثنين ٣ يونيو ٢٠٢٤", datetime(2024, 6, 3)),
        ("2024-06-03T14:20:00+03:00", datetime(2024, 6, 3, 11, 20, tzinfo=UTC)),
        ("3 حزيران 2024", datetime(2024, 6, 3)),
    ],
)
def test_publication_time_is_read_from_its_line(line: str, published_at: datetime) -> None:
    n = normalize(RawDocument(f"Headline\n{line}\n{BODY}"))
    assert (n.published_at, n.paragraphs) == (published_at, [BODY])


def test_a_date_inside_a_sentence_is_not_the_publication_time() -> None:
    n = normalize(RawDocument(f"Headline\nThe vote is on June 7, 2024.\n{BODY}"))
    assert n.published_at is None
    assert len(n.paragraphs) == 2


def test_input_fields_come_first() -> None:
    moment = datetime(2024, 6, 3, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    raw = RawDocument(
        f"Headline\nBy Someone Else\nتاريخ النشر: 3rd, June 2024 GMT\nالمصدر: بوابة الفجر\n{BODY}",
        title="Given title",
        byline="Given Author",
        source="Given Source",
        published_at=moment,
    )
    n = normalize(raw)
    assert (n.title, n.byline, n.source) == ("Given title", "Given Author", "Given Source")
    assert n.published_at == datetime(2024, 6, 3, 7, 0, tzinfo=UTC)
    assert n.paragraphs == ["Headline", BODY]


def test_given_title_is_removed_from_the_top_of_the_body() -> None:
    n = normalize(RawDocument(f"Given title\n\nGiven title\n{BODY}", title="Given title"))
    assert n.paragraphs == [BODY]


@pytest.mark.parametrize(
    ("line", "source"),
    [
        ("المصدر: بوابة الفجر", "بوابة الفجر"),
        ("المصدر : بوابة الفجر", "بوابة الفجر"),
        ("مصدر الخبر: بوابة الفجر", "بوابة الفجر"),
        ("Source: Reuters", "Reuters"),
        ("Source : AFP", "AFP"),
        ("Source\u202f: AFP", "AFP"),
        ("Источник: ТАСС", "ТАСС"),
        ("Источник — ТАСС", "ТАСС"),
        ("Quelle: dpa", "dpa"),
        ("Fuente: EFE", "EFE"),
        ("Дереккөз: Kazinform", "Kazinform"),
        ("Джерело: Укрінформ", "Укрінформ"),
    ],
)
def test_source_is_found_in_a_source_line(line: str, source: str) -> None:
    n = normalize(RawDocument(f"Headline\n{BODY}\n{line}"))
    assert (n.source, n.paragraphs) == (source, [BODY])


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        ("The forum opened in Astana, El.kz reported.", "El.kz"),
        ("The forum opened in Astana, El.kz cites MFA.", "El.kz"),
        ("Форум открылся в Астане, сообщает Kazinform.", "Kazinform"),
        ("Астанада форум ашылды, хабарлайды Kazinform.", "Kazinform"),
    ],
)
def test_source_is_found_in_an_attribution(sentence: str, source: str) -> None:
    assert normalize(RawDocument(f"Headline\n{sentence} {BODY}")).source == source


def test_near_repeat_of_a_paragraph_is_dropped() -> None:
    edited = BODY.replace("in the autumn", "in the spring") + " More later."
    n = normalize(RawDocument(f"Headline\n{BODY}\nShort line.\n{edited}\nShort line."))
    assert n.paragraphs == [BODY, "Short line."]


def test_chrome_only_text_is_kept_rather_than_emptied() -> None:
    assert normalize(RawDocument("Related Articles\nBack to top button")).paragraphs == [
        "Related Articles",
        "Back to top button",
    ]


# Rules are data ---------------------------------------------------------------------


def test_rules_load_once_from_the_data_files() -> None:
    assert load_rules() is load_rules()
    assert load_rules().months["қазан"] == 10
    assert load_rules().months["يونيو"] == 6


def test_a_new_site_needs_only_a_rules_file(tmp_path: Path) -> None:
    for path in (ROOT / "services" / "pipeline" / "rules").glob("*.toml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "example-site.toml").write_text(
        '[boilerplate]\nlines = ["Download the Example app"]\n[labels]\nbyline = ["reporter:"]\n',
        encoding="utf-8",
    )
    text = f"Headline\nReporter: Dana Ospan\n{BODY}\nDownload the Example app"
    assert normalize(RawDocument(text)).byline is None
    n = normalize(RawDocument(text), load_rules(tmp_path))
    assert (n.byline, n.paragraphs) == ("Dana Ospan", [BODY])


def test_rules_build_from_tables_without_files() -> None:
    rules = Rules.from_tables({"boilerplate": {"lines": ["only chrome"]}})
    assert normalize(RawDocument(f"{BODY}\nOnly chrome"), rules).paragraphs == [BODY]


def test_nothing_is_loaded_at_import_time() -> None:
    code = (
        "import sys, services.pipeline.normalize as n, services.pipeline.language;"
        "assert n.load_rules.cache_info().currsize == 0;"
        "assert not {'trafilatura', 'py3langid'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# HTML --------------------------------------------------------------------------------


def test_html_loses_scripts_styles_navigation_and_share_buttons() -> None:
    page = (GOLDEN / "html" / "000_en_news_page.html").read_text(encoding="utf-8")
    text = normalize(RawDocument(page, content_type="text/html")).text
    for chrome in ("gtag", "dataLayer", "--brand", "Diplomacy", "Share on", "Related", "cookies"):
        assert chrome not in text


def test_html_metadata_from_json_ld_and_title_element() -> None:
    page = f"""<!DOCTYPE html><html><head><title>Big news today | Example Times</title>
    <script type="application/ld+json">{{"@context": "https://schema.org", "@graph": [
      {{"@type": "NewsArticle", "datePublished": "2024-06-03T09:00:00+05:00",
        "author": [{{"@type": "Person", "name": "Dana Ospan"}}],
        "publisher": {{"@type": "Organization", "name": "Example Times"}}}}]}}</script>
    </head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <article><h1>Big news today</h1><p>{BODY}</p><p>{MORE}</p></article></body></html>"""
    n = normalize(RawDocument(page, content_type="text/html"))
    assert (n.title, n.byline, n.source) == ("Big news today", "Dana Ospan", "Example Times")
    assert n.published_at == datetime(2024, 6, 3, 4, 0, tzinfo=UTC)
    assert n.paragraphs == [BODY, MORE]


def test_html_fragment_is_read() -> None:
    fragment = f"<p>{BODY}</p><p>Second paragraph of the story.</p>"
    n = normalize(RawDocument(fragment, content_type="text/html"))
    assert n.paragraphs == [BODY, "Second paragraph of the story."]


# Errors ------------------------------------------------------------------------------


def test_unknown_content_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="content_type"):
        normalize(RawDocument("x", content_type="application/pdf"))


def test_bytes_that_are_not_utf8_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        normalize(RawDocument(b"caf\xe9"))  # type: ignore[arg-type]


def test_utf8_bytes_are_read() -> None:
    assert normalize(RawDocument("Café".encode())).text == "Café"  # type: ignore[arg-type]


# Properties --------------------------------------------------------------------------

# Pieces that interact: chrome and metadata lines, entities, mojibake halves,
# invisible and combining characters, odd line breaks, lone surrogates.
PIECES = [
    "Related Articles",
    "Back to top button",
    "By Manal Abdel Fattah",
    "تاريخ النشر: 3rd, June 2024 GMT",
    "Фото: MFA 24.10.2024 18:53 333",
    "المصدر: بوابة الفجر",
    "Read also:",
    "Telegram Subscribe to our Telegram channel and be the first to know the news!",
    ", El.kz reported.",
    "&amp;",
    "&#8203;",
    "Ã©",
    "â€™",
    "Р",
    "џ",
    "\u200b",
    "\u0301",
    "ـ",
    "٣",
    "\u00a0",
    "\t",
    "\r",
    "\x85",
    "\u2028",
    "\x9d",
    "\ud800",
    " ",
    "\n",
    "\n\n",
    ".",
]
seed_lines = st.sampled_from(
    [line for seed in SEEDS for line in seed.read_text(encoding="utf-8").splitlines()]
)
news_like = st.lists(
    st.one_of(seed_lines, st.sampled_from(PIECES), st.text(max_size=12)), max_size=24
).map("".join)
byte_soup = st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape"))
any_text = st.one_of(st.text(), byte_soup, news_like)
fast = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(content=any_text)
def test_normalizing_twice_changes_nothing(content: str) -> None:
    n = normalize(RawDocument(content))
    assert _again(n) == n


@fast
@given(content=any_text)
def test_matching_text_is_the_matching_form_of_the_text(content: str) -> None:
    n = normalize(RawDocument(content))
    assert n.matching_text == matching_form(n.text)
    assert matching_form(n.matching_text) == n.matching_text


@fast
@given(content=any_text)
def test_real_text_never_normalizes_to_empty(content: str) -> None:
    n = normalize(RawDocument(content))
    # Real text: a letter or digit outside character references ("&#8203;" is
    # invisible) once repaired ("Ø\x9c" is the mojibake of an invisible mark).
    if "&" not in content and any(c.isalnum() for c in repair(content)):
        assert n.text


@settings(max_examples=60, deadline=None)
@given(content=st.one_of(any_text, st.binary(max_size=200)))
def test_any_input_gives_a_result_or_a_value_error(content: str | bytes) -> None:
    for content_type in ("text/plain", "text/html"):
        try:
            n = normalize(RawDocument(content, content_type=content_type))  # type: ignore[arg-type]
        except ValueError:
            assert isinstance(content, bytes)
        else:
            assert isinstance(n.text, str)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_normalizing_an_html_result_again_changes_nothing(page: Path) -> None:
    n = normalize(RawDocument(page.read_text(encoding="utf-8"), content_type="text/html"))
    assert _again(n) == n


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem[:3])
def test_normalizing_a_seed_again_changes_nothing(seed: Path) -> None:
    n = normalize(RawDocument(seed.read_text(encoding="utf-8")))
    assert _again(n) == n
