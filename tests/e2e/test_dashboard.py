"""The pipeline page in a real headless browser against the real stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, Request, Route, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from services.config import Config
from services.queue import create_celery, enqueue_processing
from services.storage.db import make_engine, make_sessionmaker
from services.storage.models import PROCESSED, Document, Story, utcnow
from tests.e2e.conftest import serve
from tests.helpers import CONSENT, http_status, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The README shows this picture; the test takes it anew on every run, so it stays true.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
LANGUAGES = ["en", "ar", "ru", "kk", "de", "fr", "es", "uk", "tr", "pl", "zh", "ja"]
WIDTHS = (1400, 800)
# Every element of a card must lie inside it; anything past its edge overflows.
OVERFLOW = """
() => {
  const found = [];
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) {
    found.push(`page ${page.scrollWidth} > ${page.clientWidth}`);
  }
  for (const card of document.querySelectorAll(".card, .tile, .bar")) {
    const box = card.getBoundingClientRect();
    if (card.scrollWidth > card.clientWidth + 1) {
      found.push(`${card.querySelector("h2")?.textContent || card.className} scrolls`);
    }
    for (const node of card.querySelectorAll("th, td, .lang, .quality, button, input, svg")) {
      const rect = node.getBoundingClientRect();
      if (rect.width && (rect.right > box.right + 0.5 || rect.left < box.left - 0.5)) {
        found.push(`${node.tagName} "${node.textContent.slice(0, 30)}" leaves its card`);
      }
    }
  }
  for (const cell of document.querySelectorAll("td.langs")) {
    if (cell.scrollWidth > cell.clientWidth) found.push(`languages cut: ${cell.title}`);
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def api_url(config: Config) -> Iterator[str]:
    with serve(config) as url:
        yield url


@pytest.fixture(scope="module")
def sessions(config: Config) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(config.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@dataclass(frozen=True)
class Seeded:
    """What the page must show: a processed title, a failure, two set aside, a wide story."""

    title: str
    broken_id: str
    empty_id: str
    consent_id: str
    wide_title: str


def _store_story_in_languages(sessions: sessionmaker[Session], title: str) -> str:
    """Store a processed story with one member in each of LANGUAGES; return its id."""
    with sessions.begin() as session:
        now = utcnow()
        members = [
            Document(
                raw={"content": title},
                status=PROCESSED,
                language=code,
                title=title if code == "en" else f"{title} ({code})",
                processed_at=now,
                relation=None if code == "en" else "translation",
            )
            for code in LANGUAGES
        ]
        session.add_all(members)
        session.flush()
        story = Story(canonical_id=members[0].id, updated_at=now)
        session.add(story)
        session.flush()
        for member in members:
            member.story_id = story.id
        return story.id


def _post(api_url: str, fields: dict[str, str], auth_headers: dict[str, str]) -> str:
    response = requests.post(
        f"{api_url}/v1/documents", json=fields, headers=auth_headers, timeout=10
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _seed(
    api_url: str, config: Config, sessions: sessionmaker[Session], auth_headers: dict[str, str]
) -> Seeded:
    """Store a processed document, one that fails, two set aside and a story in 12 languages."""
    title = f"Harbour terminal opens {uuid.uuid4().hex[:6]}"
    content = "The harbour authority opened a ferry terminal on Tuesday.\n\nIt cost 40 million."
    article_id = _post(api_url, {"content": content, "title": title}, auth_headers)
    wait_for(lambda: http_status(api_url, article_id, auth_headers) == "processed")
    # A stored row whose raw payload lost its content cannot be processed.
    with sessions.begin() as session:
        broken = Document(raw={"content_type": "text/plain", "title": "Broken"}, deliveries=0)
        session.add(broken)
    broken_id = str(broken.id)
    celery = create_celery(config)
    try:
        enqueue_processing(celery, [broken_id])
    finally:
        celery.close()
    wait_for(lambda: http_status(api_url, broken_id, auth_headers) == "failed")
    # Markup with no text: normalization leaves nothing, and no retry changes that.
    empty = {"content": "<script>track()</script>", "content_type": "text/html", "title": "Empty"}
    empty_id = _post(api_url, empty, auth_headers)
    # A consent wall: processed, but no article in it.
    consent_id = _post(api_url, CONSENT, auth_headers)
    wait_for(lambda: http_status(api_url, empty_id, auth_headers) == "failed")
    wait_for(lambda: http_status(api_url, consent_id, auth_headers) == "processed")
    wide_title = "Leaders meet at the summit on the future of river shipping and its ports " * 2
    _store_story_in_languages(sessions, wide_title)
    return Seeded(title, broken_id, empty_id, consent_id, wide_title)


def test_dashboard_shows_documents_and_retries_a_failed_one(
    api_url: str,
    config: Config,
    sessions: sessionmaker[Session],
    api_token: str,
    auth_headers: dict[str, str],
) -> None:
    seeded = _seed(api_url, config, sessions, auth_headers)
    broken_id = seeded.broken_id
    sent_keys: list[str | None] = []

    def _record(route: Route, request: Request) -> None:
        sent_keys.append(request.headers.get("authorization"))
        route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1000})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.route("**/v1/documents/*/retry", _record)
            loaded = page.goto(f"{api_url}/dashboard")
            assert loaded is not None and loaded.status == 200
            assert "script-src 'self'" in loaded.headers["content-security-policy"]
            # Without a key the summary is refused, and the page says what to do.
            expect(page.locator("#freshness")).to_contain_text("paste an API key")
            page.fill("#api-key", api_token)
            page.click("#key-form button")

            _expect_cards(page, seeded)
            failed_row = page.locator(f'#failed tr[data-document-id="{broken_id}"]')
            page.wait_for_timeout(3500)  # a second backlog sample, for the screenshot
            _expect_no_overflow_and_screenshot(page)

            with sessions.begin() as session:
                repaired = session.get(Document, broken_id)
                assert repaired is not None
                repaired.raw = {"content": "Repaired content for the retry.", "title": "Fixed"}
            failed_row.locator("button").click()
            expect(page.locator("#flash")).to_contain_text("Re-queued")
            wait_for(lambda: http_status(api_url, broken_id, auth_headers) == "processed")
            expect(failed_row).to_have_count(0, timeout=10_000)
            assert sent_keys == [f"Bearer {api_token}"]
            # The one 401 is the summary read before the key was pasted.
            assert [p for p in problems if "401" not in p] == []
        finally:
            browser.close()


def _expect_cards(page: Page, seeded: Seeded) -> None:
    """The stories, the failure with its error, what is set aside and why, the figures."""
    expect(page.locator("#stories")).to_contain_text(seeded.title)
    story = page.locator("#stories tr", has_text=seeded.title)
    expect(story.locator(".lang")).to_have_text(["en"])
    failed_row = page.locator(f'#failed tr[data-document-id="{seeded.broken_id}"]')
    expect(failed_row).to_contain_text("KeyError")
    # Set aside with its quality and reason, not listed as a failure, no Retry.
    empty = seeded.empty_id
    expect(page.locator(f'#failed tr[data-document-id="{empty}"]')).to_have_count(0)
    aside = page.locator(f'#set-aside tr[data-document-id="{empty}"]')
    expect(aside.locator(".quality")).to_have_text("no_text")
    expect(aside.locator("button")).to_have_count(0)
    consent = page.locator(f'#set-aside tr[data-document-id="{seeded.consent_id}"]')
    expect(consent.locator(".quality")).to_have_text("no_article")
    expect(consent.locator(".reason")).to_have_text("consent_wall")
    expect(consent.locator("button")).to_have_count(0)
    expect(page.locator("#count-failed")).to_have_text("1")
    wide = page.locator("#stories tr", has_text=seeded.wide_title.strip()[:40])
    expect(wide.locator(".lang")).to_have_text(["en", "+11"])
    listed = (wide.locator("td.langs").get_attribute("title") or "").split(" · ")
    assert listed[0] == "EN" and sorted(listed) == sorted(c.upper() for c in LANGUAGES)
    expect(page.locator("#count-processed")).not_to_have_text("–")
    expect(page.locator("#throughput-chart polyline")).to_have_count(2)
    # Stage latencies come from the stored window, with a count.
    expect(page.locator("#stages tr").first.locator("td").last).not_to_have_text("0")


def _expect_no_overflow_and_screenshot(page: Page) -> None:
    """Nothing leaves its card at any width; the screenshot is taken at the widest."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_function(f"document.documentElement.clientWidth === {width}")
        page.evaluate("() => new Promise(requestAnimationFrame)")
        assert page.evaluate(OVERFLOW) == [], width
    page.set_viewport_size({"width": WIDTHS[0], "height": 1000})
    page.wait_for_function(f"document.documentElement.clientWidth === {WIDTHS[0]}")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
