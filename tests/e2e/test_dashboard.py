"""The pipeline page in a real headless browser against the real stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Request, Route, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from services.config import Config
from services.queue import create_celery, enqueue_processing
from services.storage.db import make_engine, make_sessionmaker
from services.storage.models import Document
from tests.e2e.conftest import serve
from tests.helpers import http_status, wait_for

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
SCREENSHOT = Path("/tmp/dashboard.png")


@pytest.fixture(scope="module")
def api_url(config: Config) -> Iterator[str]:
    with serve(config) as url:
        yield url


@pytest.fixture(scope="module")
def sessions(config: Config) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(config.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _processed_and_failed(
    api_url: str, config: Config, sessions: sessionmaker[Session], auth_headers: dict[str, str]
) -> tuple[str, str]:
    """Store one processed document and one that fails; return its title and the failed id."""
    title = f"Harbour terminal opens {uuid.uuid4().hex[:6]}"
    content = "The harbour authority opened a ferry terminal on Tuesday.\n\nIt cost 40 million."
    response = requests.post(
        f"{api_url}/v1/documents",
        json={"content": content, "title": title},
        headers=auth_headers,
        timeout=10,
    )
    seeded = response.json()["id"]
    wait_for(lambda: http_status(api_url, seeded, auth_headers) == "processed")
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
    return title, broken_id


def test_dashboard_shows_documents_and_retries_a_failed_one(
    api_url: str,
    config: Config,
    sessions: sessionmaker[Session],
    api_token: str,
    auth_headers: dict[str, str],
) -> None:
    title, broken_id = _processed_and_failed(api_url, config, sessions, auth_headers)
    sent_keys: list[str | None] = []

    def _record(route: Route, request: Request) -> None:
        sent_keys.append(request.headers.get("authorization"))
        route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
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

            expect(page.locator("#stories")).to_contain_text(title)
            story = page.locator("#stories tr", has_text=title)
            expect(story.locator(".lang")).to_have_text(["en"])
            failed_row = page.locator(f'#failed tr[data-document-id="{broken_id}"]')
            expect(failed_row).to_contain_text("KeyError")
            expect(page.locator("#count-processed")).not_to_have_text("–")
            expect(page.locator("#throughput-chart polyline")).to_have_count(2)
            page.wait_for_timeout(3500)  # a second backlog sample, for the screenshot
            page.screenshot(path=str(SCREENSHOT), full_page=True)

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
