"""Feed renderings carry text only, and webhook signatures follow Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac

import feedparser
from hypothesis import given
from hypothesis import strategies as st

from services import webhooks
from services.feeds import formats

ITEM = {
    "cursor": "ZmVlZDp2MTox",
    "story_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "document_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "revision": 1,
    "title": "t",
    "summary": "s",
    "language": "en",
    "url": "javascript:alert(1)",
    "tags": ["country:KZ"],
    "published_at": "2024-01-01T00:00:00+00:00",
    "updated_at": "2024-01-02T00:00:00+00:00",
    "link": "/v1/stories/1b4e28ba-2fa1-11d2-883f-0016d3cca427",
}


def _atom(item: dict[str, object]) -> bytes:
    return formats.atom(
        [item],
        view="stories",
        title="feed",
        feed_id="http://x/v1/feed.atom",
        links=formats.Links(base_url="http://x/", self_url="http://x/v1/feed.atom"),
        updated="2024-01-02T00:00:00+00:00",
    )


@given(st.text(), st.text())
def test_any_text_makes_well_formed_atom(title: str, summary: str) -> None:
    parsed = feedparser.parse(_atom({**ITEM, "title": title, "summary": summary}))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1


def test_only_http_links_are_kept() -> None:
    assert b"javascript:" not in _atom(ITEM)
    body = formats.json_feed(
        [ITEM], view="stories", title="f", base_url="http://x/", feed_url="u", next_url=None
    )
    assert "external_url" not in body["items"][0]
    assert formats.safe_url("https://example.org/a") == "https://example.org/a"


def test_signature_matches_the_standard_webhooks_scheme() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    signature = webhooks.sign(secret, "msg_1", 1700000000, b'{"a":1}')
    expected = hmac.new(b"k" * 32, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert signature == "v1," + base64.b64encode(expected).decode()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": f"v1,bogus {signature}",
    }
    assert webhooks.verify(secret, headers, b'{"a":1}', now=1700000100)
    assert not webhooks.verify(secret, headers, b'{"a":1}', now=1700009999)
    assert not webhooks.verify(secret, headers, b'{"a":2}', now=1700000100)


def test_backoff_doubles_and_is_capped() -> None:
    settings = webhooks.Settings(backoff_seconds=1, backoff_max_seconds=10)
    assert 0.75 <= webhooks.backoff(1, settings) <= 1.25
    assert 3 <= webhooks.backoff(3, settings) <= 5
    assert webhooks.backoff(30, settings) <= 12.5
