"""JSON Feed 1.1 and Atom 1.0: valid (Atom by feedparser), filtered, paged, text only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import feedparser
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers import wait_for

HOSTILE = (
    "<script>alert('x')</script> Kazakhstan & Egypt <b>agree</b> on trade\x07 today.\n\n"
    "Second paragraph with <img src=x onerror=alert(1)> more text."
)


@pytest.fixture
def posted(client: FlaskClient, worker: object) -> list[str]:
    bodies = [
        {
            "content": HOSTILE,
            "title": "<i>Trade</i> & \x01 talks",
            "url": "https://example.org/a?x=1&y=2",
            "published_at": "2024-05-01T10:00:00Z",
        },
        {"content": "Egypt opens a new port on the Red Sea coast near Safaga this week."},
        {"content": "Kazakhstan launches a satellite to watch its northern wheat fields."},
    ]
    ids = [client.post("/v1/documents", json=body).json["id"] for body in bodies]
    wait_for(
        lambda: all(client.get(f"/v1/documents/{i}").json["status"] == "processed" for i in ids)
    )
    return ids


def _parse(response: TestResponse) -> feedparser.FeedParserDict:
    return feedparser.parse(response.data)


def _check_json_feed(body: dict[str, Any]) -> None:
    """Check the JSON Feed 1.1 rules (feedparser 6.0 reads only XML feeds)."""
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(body["title"], str) and isinstance(body["items"], list)
    assert set(body) <= {"version", "title", "home_page_url", "feed_url", "next_url", "items"}
    for item in body["items"]:
        assert isinstance(item["id"], str)
        assert isinstance(item.get("content_text"), str) and "content_html" not in item
        for key in ("date_published", "date_modified"):
            if key in item:
                datetime.fromisoformat(item[key])  # RFC 3339
        assert all(isinstance(tag, str) for tag in item.get("tags", []))
        for key in item:
            assert key.startswith("_") or key in JSON_FEED_ITEM_KEYS, key


JSON_FEED_ITEM_KEYS = {
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "authors",
    "tags",
    "language",
    "attachments",
}


def test_json_feed_is_valid_and_text_only(client: FlaskClient, posted: list[str]) -> None:
    response = client.get("/v1/feed.json?view=documents")
    assert response.status_code == 200
    assert response.mimetype == "application/feed+json"
    body = json.loads(response.data)
    _check_json_feed(body)
    assert len(body["items"]) == 3
    hostile = next(item for item in body["items"] if item["id"] == posted[0])
    assert "content_html" not in hostile
    assert "\x07" not in hostile["content_text"] and "\x01" not in hostile["title"]
    assert hostile["external_url"] == "https://example.org/a?x=1&y=2"
    assert hostile["url"].startswith("http://localhost/v1/stories/")
    assert "Trade" in hostile["title"] and "\x01" not in hostile["title"]


def test_atom_is_valid_escaped_and_pages(client: FlaskClient, posted: list[str]) -> None:
    response = client.get("/v1/feed.atom?view=documents&limit=2")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert b"<script" not in response.data and b"<img" not in response.data
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert len(parsed.entries) == 2
    links = {link["rel"]: link["href"] for link in parsed.feed.links}
    ids = [entry.id for entry in parsed.entries]
    following = client.get(links["next"].removeprefix("http://localhost"))
    rest = feedparser.parse(following.data)
    assert not rest.bozo
    ids += [entry.id for entry in rest.entries]
    assert sorted(ids) == sorted(f"urn:uuid:{i}" for i in posted)
    hostile = next(
        entry for entry in parsed.entries + rest.entries if entry.id == f"urn:uuid:{posted[0]}"
    )
    assert "<script>" in hostile.summary  # shown as text, never as markup
    assert hostile.summary_detail.type == "text/plain"


def test_formats_take_the_feed_filters(client: FlaskClient, posted: list[str]) -> None:
    query = "view=documents&tag=country:KZ&tag=country:EG"
    parsed = _parse(client.get(f"/v1/feed.atom?{query}"))
    assert not parsed.bozo
    assert [entry.id for entry in parsed.entries] == [f"urn:uuid:{posted[0]}"]
    body = client.get(f"/v1/feed.json?{query}").json
    _check_json_feed(body)
    assert [item["id"] for item in body["items"]] == [posted[0]]


def test_formats_answer_304_when_unchanged(client: FlaskClient, posted: list[str]) -> None:
    for path in ("/v1/feed.json", "/v1/feed.atom"):
        etag = client.get(path).headers["ETag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
