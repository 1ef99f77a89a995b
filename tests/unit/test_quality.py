"""Pages without an article: walls in several languages are told from short news."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.pipeline.normalize import RawDocument, normalize
from services.pipeline.quality import (
    NO_ARTICLE,
    TOO_LITTLE_TEXT,
    WallRules,
    assess_quality,
    load_wall_rules,
)

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
PAGES = sorted((ROOT / "tests" / "golden" / "html").glob("*.html"))
CONSENT_PAGE = """<html><head><title>Haushalt beschlossen | Tagesblatt</title></head><body>
<nav><a href="/">Startseite</a> <a href="/politik">Politik</a></nav>
<div id="consent"><h2>Wir respektieren Ihre Privatsphäre</h2>
<p>Wir setzen auf unserer Website Cookies und andere Technologien ein, um Ihnen ein optimales
Nutzungserlebnis zu bieten. Mit einem Klick auf „Alle akzeptieren“ stimmen Sie der Verarbeitung
Ihrer Daten durch uns und unsere Partner zu.</p>
<p>Ihre Einwilligung können Sie jederzeit in den Datenschutzeinstellungen widerrufen.</p>
<button>Alle akzeptieren</button><button>Einstellungen</button></div>
<footer>© 2024 Tagesblatt</footer></body></html>"""

WALLS = {
    "consent_wall": [
        (
            "de",
            "Bundesliga: Bayern gewinnt in Mainz",
            "Wir setzen auf unserer Website Cookies und andere Technologien ein, um Ihnen "
            "ein optimales Nutzungserlebnis zu bieten. Mit einem Klick auf „Alle akzeptieren“ "
            "stimmen Sie der Verarbeitung Ihrer Daten durch uns und unsere Partner zu.\n\n"
            "Ihre Einwilligung können Sie jederzeit in den Datenschutzeinstellungen widerrufen.",
        ),
        (
            "en",
            None,
            "We value your privacy\n\nWe and our partners store and/or access information on a "
            "device, such as cookies, and process personal data. You may accept or manage your "
            "choices by clicking below.\n\nAccept all cookies\n\nManage cookies",
        ),
        (
            "fr",
            "Municipales : le second tour aura lieu en juin",
            "Nous utilisons des cookies pour améliorer votre expérience. En poursuivant votre "
            "navigation, vous acceptez l'utilisation de cookies. Gestion des cookies.",
        ),
        (
            "pl",
            "Rząd przyjął projekt budżetu",
            "Szanowny Czytelniku! Aby ulepszyć serwis, zbieramy anonimowe informacje o Tobie "
            "przy pomocy plików cookies. Administratorem Twoich danych osobowych jest wydawca "
            "serwisu. Możesz wycofać zgodę w każdej chwili, a szczegóły znajdziesz w polityce "
            "prywatności.",
        ),
        (
            "tr",
            "Merkez Bankası faizi sabit tuttu",
            "Sitemizde çerezler kullanılmaktadır. Kişisel verilerin korunması kanunu "
            "kapsamında aydınlatma metnini okuyabilirsiniz. Gizlilik politikası.",
        ),
    ],
    "signup_prompt": [
        (
            "en",
            "Storm warning for the coast",
            "We'll send breaking news and news alerts to you as they happen.\n\nEnter your "
            "email address below. Sign up!",
        ),
        (
            "en",
            None,
            "Once registered, you can:\n\n- Read additional free articles each month\n\n"
            "- Comment on articles and featured creator posts\n\n- Create an account or log in",
        ),
        (
            "es",
            "El Gobierno aprueba los presupuestos",
            "Suscríbete a nuestro boletín y recibe cada mañana las noticias más importantes. "
            "Regístrate gratis o inicia sesión si ya tienes una cuenta.",
        ),
    ],
    "paywall": [
        (
            "de",
            "Polizei meldet ruhige Nacht",
            "Die Polizei musste nur zweimal ausrücken. Jetzt weiterlesen mit dem Digitalabo: "
            "Dieser Artikel ist exklusiv für Abonnenten. Sie haben bereits ein Abo? Dann melden "
            "Sie sich an. Testen Sie 30 Tage für 0,99 €.",
        ),
        (
            "en",
            "Council approves new budget",
            "This article is for subscribers only. Subscribe to continue reading and get "
            "unlimited access to all our journalism. Already a subscriber? Log in.",
        ),
        (
            "ru",
            "Власти объявили о новых мерах",
            "Материал доступно только подписчикам. Оформите подписку, чтобы читать без "
            "ограничений.",
        ),
    ],
    "adblock_wall": [
        (
            "en",
            "Lottery results",
            "We noticed you're blocking ads!\n\nKeep supporting great journalism by turning off "
            "your ad blocker. Or purchase a subscription for unlimited access.",
        ),
        (
            "fr",
            None,
            "Vous utilisez un bloqueur de publicité. Nos journalistes ont besoin de vos "
            "lectures : désactivez votre bloqueur sur notre site.",
        ),
    ],
    "access_blocked": [
        (
            "pl",
            "Przepraszamy, z Twojego adresu IP odnotowaliśmy bardzo dużo połączeń.",
            "Podejrzewamy, że ktoś nadużył adresu IP, z którego korzystasz.\n\n"
            'Aby połączyć się z serwisem, zaznacz "Nie jestem robotem".\n\n'
            "Twój adres IP: 198.51.100.23",
        ),
        (
            "en",
            "Access denied",
            "Access to this page has been denied because we believe you are using automation "
            "tools to browse the website. Please verify you are human.\n\nReference ID: 7f3a",
        ),
        (
            "ar",
            None,
            "الوصول مرفوض. يبدو أن عنوان IP الخاص بك أرسل عددا كبيرا من الطلبات. "
            "يرجى التأكيد أنك لست روبوتا.",
        ),
        (
            "ru",
            None,
            "Доступ ограничен. С вашего IP поступает подозрительный трафик. Подтвердите, что "
            "я не робот.",
        ),
    ],
}

# Short real news: a brief, an agency item, an item with a newsletter line.
ARTICLES = [
    (
        "en",
        "Tips for managing stress in the new year",
        "DETROIT - Stress affects everyone, and the holidays can be particularly stressful. "
        "There are steps you can take to manage it, doctors at the city's hospital said.",
    ),
    (
        "es",
        "China eleva a 213 los muertos por el nuevo coronavirus",
        "Las cifras se actualizaron con los casos de las últimas 24 horas y representan un "
        "fuerte incremento respecto a los 7.711 casos y 170 muertos del jueves.",
    ),
    (
        "de",
        "Macron bleibt bei Rentenreform hart",
        "Paris (dpa) - Frankreichs Präsident Emmanuel Macron bleibt bei der Rentenreform trotz "
        "der Streiks hart und will an dem Projekt festhalten. Die Regierung werde mit den "
        "Gewerkschaften weiter verhandeln, sagte er in seiner Neujahrsansprache.",
    ),
    (
        "en",
        "Fire crews rescue two men from icy pond",
        "HANSON, Mass. (AP) - Firefighters rescued two men whose boat capsized in an icy pond "
        "late on New Year's Eve. Both were taken to a hospital with hypothermia, the fire "
        "chief said. Officials urged residents to stay off the ice until it is thicker. The "
        "men, both in their 30s, had been fishing since the afternoon, he said, and were "
        "wearing life jackets, which saved their lives.\n\nSign up for our newsletter to get "
        "the day's top stories.",
    ),
    (
        "pl",
        "Sejm przyjął ustawę o ochronie danych",
        "Posłowie przyjęli w piątek nowelizację ustawy o ochronie danych osobowych. Za "
        "głosowało 230 posłów, przeciw było 190. Ustawa trafi teraz do Senatu, który ma 30 "
        "dni na jej rozpatrzenie. Opozycja zapowiada poprawki dotyczące kar dla firm.",
    ),
]


def _quality(title: str | None, text: str, rules: WallRules | None = None):  # type: ignore[no-untyped-def]
    return assess_quality(normalize(RawDocument(content=text, title=title)), rules)


@pytest.mark.parametrize(
    ("reason", "language", "title", "text"),
    [(reason, *case) for reason, cases in WALLS.items() for case in cases],
)
def test_a_wall_is_no_article_with_its_reason(
    reason: str, language: str, title: str | None, text: str
) -> None:
    quality = _quality(title, text)
    assert quality.value == NO_ARTICLE, (language, quality)
    assert quality.reason == reason
    assert quality.phrases


@pytest.mark.parametrize(("language", "title", "text"), ARTICLES)
def test_short_news_is_an_article(language: str, title: str, text: str) -> None:
    quality = _quality(title, text)
    assert quality.is_article, (language, quality)
    assert quality.reason is None


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_the_seeds_are_articles(path: Path) -> None:
    assert _quality(None, path.read_text(encoding="utf-8")).is_article


def test_chrome_with_hardly_any_prose_is_too_little_text() -> None:
    quality = _quality("Aid package agreed", "Copyright 2024 The Agency. All rights reserved.")
    assert (quality.value, quality.reason) == (NO_ARTICLE, TOO_LITTLE_TEXT)


def test_a_short_text_without_chrome_is_an_article() -> None:
    # What a producer posts as a one-line item is its choice: nothing was
    # dropped, so nothing says a page was refused.
    assert _quality(None, "Markets closed higher on Friday.").is_article


def test_a_long_article_with_a_prompt_in_it_stays_an_article() -> None:
    text = (
        "Sign up to FREE email alerts from the Daily Planet Subscribe Thank you for "
        "subscribing See our privacy notice Invalid Email The city council voted on Tuesday "
        "to expand the tram network by 12 kilometres, with construction due to begin next "
        "spring.\n\nThe new line will link the university with the main station and the "
        "hospital, the transport committee said. It is expected to carry 40,000 passengers "
        "a day once all stops are open.\n\nOpposition councillors questioned the cost, put "
        "at 310 million euros, and asked for an independent review of the ridership "
        "figures before the first contracts are signed in the autumn.\n\nThe mayor said "
        "the city would apply for national funding to cover half of the cost, and that "
        "the old bus routes along the corridor would be kept until the trams run."
    )
    quality = _quality("Tram network to grow", text)
    assert quality.is_article
    assert quality.wall_chars > 0


def test_phrases_match_whole_words_in_any_case_and_accent() -> None:
    rules = load_wall_rules()
    assert _quality(None, "ADBLOCKERS: PLEASE WHITELIST OUR SITE", rules).reason == "adblock_wall"
    article = "The bad blockers of the plan in parliament said the ads were fine. " * 3
    assert _quality("Vote", article, rules).is_article
    assert _quality(
        "Zugriff", "ZUGRIFF VERWEIGERT. Ihre IP-Adresse wurde gesperrt.", rules
    ).reason == ("access_blocked")


def test_the_walls_files_name_only_known_kinds(tmp_path: Path) -> None:
    (tmp_path / "xx.toml").write_text('[kinds]\nmarketing = ["buy now"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="marketing"):
        load_wall_rules(tmp_path)


def test_every_rules_language_has_walls() -> None:
    rules_dir = ROOT / "services" / "pipeline" / "rules"
    languages = {p.stem for p in rules_dir.glob("*.toml")} - {"common", "languages", "sites"}
    walls = {p.stem for p in (rules_dir / "walls").glob("*.toml")}
    assert languages <= walls


def test_an_html_consent_page_is_no_article() -> None:
    page = normalize(RawDocument(CONSENT_PAGE, content_type="text/html"))
    assert assess_quality(page).reason == "consent_wall"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_html_news_pages_are_articles(path: Path) -> None:
    page = normalize(RawDocument(path.read_text(encoding="utf-8"), content_type="text/html"))
    assert assess_quality(page).is_article
