"""End to end: the real stack (gunicorn, Celery worker, Redis, database) over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from seeds.load import seed_documents
from services.config import Config
from tests.e2e.conftest import serve
from tests.helpers import wait_for


@pytest.fixture(scope="module")
def api_url(config: Config) -> Iterator[str]:
    with serve(config) as url:
        yield url


def _feed(url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"view": "documents", "limit": 2, **({"after": cursor} if cursor else {})}
        page = requests.get(f"{url}/v1/feed", params=params, headers=headers, timeout=10).json()
        items += page["items"]
        if not page["items"]:
            return items
        cursor = page["next_cursor"]


def test_seeds_posted_over_http_appear_processed_in_the_feed(
    api_url: str, auth_headers: dict[str, str]
) -> None:
    ids = []
    run = time.time_ns()
    for seed in seed_documents():
        # The payload `make seed` sends; a key of this run's own, as the
        # session's database may hold the seeds already.
        headers = {**auth_headers, "Idempotency-Key": f"e2e-{run}-{seed['external_id']}"}
        response = requests.post(f"{api_url}/v1/documents", json=seed, headers=headers, timeout=10)
        assert response.status_code == 202
        ids.append(response.json()["id"])
    wait_for(
        lambda: set(ids) <= {item["document_id"] for item in _feed(api_url, auth_headers)},
        timeout=60,
        interval=0.3,
    )
    documents = [
        requests.get(f"{api_url}/v1/documents/{i}", headers=auth_headers, timeout=10).json()
        for i in ids
    ]
    for document in documents:
        assert document["status"] == "processed"
        assert document["text"]
        assert document["title"]
    english, arabic, spotlight, dialogue, almaty = documents
    assert (english["language"], arabic["language"]) == ("en", "ar")
    # Each article's source line: "المصدر: بوابة الفجر" and "El.kz cites MFA".
    assert (arabic["source"], spotlight["source"]) == ("بوابة الفجر", "El.kz")
    # 000 and 001 are one article in two languages; 003 and 004 are two
    # articles about the same event; 002 is a story of its own.
    # Whichever of the two a worker finishes first is the canonical one.
    assert arabic["story_id"] == english["story_id"]
    translation = english if english["relation"] == "translation" else arabic
    assert translation["relation"] == "translation"
    assert {"country:KZ", "country:EG", "org:oic", "topic:gender-equality"} <= {
        tag["id"] for tag in arabic["tags"]
    }
    stories = {english["story_id"], spotlight["story_id"], dialogue["story_id"], almaty["story_id"]}
    assert len(stories) == 4
    story = requests.get(
        f"{api_url}/v1/stories/{english['story_id']}", headers=auth_headers, timeout=10
    ).json()
    members = {member["document_id"]: member for member in story["members"]}
    assert members[translation["id"]]["relation"] == "translation"
    assert members[translation["id"]]["evidence"]
