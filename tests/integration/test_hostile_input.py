"""Hostile and malformed input: each gets a clear 4xx, or ends `failed` with a reason.

After every document the worker is still alive: a normal document posted next
is processed.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.api import security
from services.storage.models import Document
from tests.helpers import wait_for

PROBLEM = "application/problem+json"


def _finished(client: FlaskClient, document_id: str) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        body = client.get(f"/v1/documents/{document_id}").json
        return body if body["status"] in ("processed", "failed") else None

    return wait_for(done, timeout=120)  # type: ignore[return-value]


def _assert_worker_alive(client: FlaskClient) -> None:
    text = f"Control report {uuid.uuid4().hex}: the council met on Monday."
    document_id = client.post("/v1/documents", json={"content": text}).json["id"]
    assert _finished(client, document_id)["status"] == "processed"


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Document)) or 0)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("content", ["", " ", "\n\t \r\n", "\u00a0\u2003"])
def test_empty_or_blank_content_gets_422(client: FlaskClient, content: str) -> None:
    response = client.post("/v1/documents", json={"content": content})
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "json.content", "message": "Content is empty."}]


def test_a_20_mb_body_gets_413_and_stores_nothing(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    body = json.dumps({"content": "x" * 20_000_000})
    response = client.post("/v1/documents", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.content_type == PROBLEM
    batch = client.post("/v1/documents/batch", json={"documents": [{"content": "y" * 20_000_000}]})
    assert batch.status_code == 200
    assert batch.json["results"][0]["status"] == 413
    assert _count(sessions) == 0


@pytest.mark.parametrize("depth", [33, 900, 10_000, 100_000])
def test_deeply_nested_json_gets_400_not_a_recursion_error(
    client: FlaskClient, depth: int, sessions: sessionmaker[Session]
) -> None:
    metadata = '{"a":' * depth + "1" + "}" * depth
    for path, body in (
        ("/v1/documents", f'{{"content": "ok", "metadata": {metadata}}}'),
        ("/v1/documents/batch", f'{{"documents": [{{"content": "ok", "metadata": {metadata}}}]}}'),
        ("/v1/documents", f'{{"content": "ok", "metadata": {{"list": {_nested(depth)}}}}}'),
    ):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400
        assert response.content_type == PROBLEM
        assert "nested deeper" in response.json["detail"]
    assert _count(sessions) == 0


def test_moderate_nesting_is_accepted(client: FlaskClient) -> None:
    metadata = json.loads('{"a":' * 20 + "1" + "}" * 20)
    response = client.post("/v1/documents", json={"content": "Nested ok.", "metadata": metadata})
    assert response.status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        b'{"content": "caf\xe9"}',
        b'{"content": "\xff\xfe\xfd"}',
        b'\xef\xbb\xbf{"content": "\xc3\x28"}',
        b'{"content": "ok", "title": "\xed\xa0\x80"}',
    ],
)
def test_invalid_utf8_gets_400(client: FlaskClient, body: bytes) -> None:
    response = client.post("/v1/documents", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == PROBLEM


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"content": "a\x00b"}, "json.content"),
        ({"content": "ok", "title": "t\x00"}, "json.title"),
        ({"content": "ok", "source": "s\x00", "external_id": "e"}, "json.source"),
        ({"content": "ok", "source": "s", "external_id": "\x00"}, "json.external_id"),
        ({"content": "ok", "metadata": {"k": ["fine", "\x00"]}}, "json.metadata.k.1"),
        ({"content": "ok", "metadata": {"k\x00": 1}}, "json.metadata"),
    ],
)
def test_nul_characters_get_422_naming_the_field(
    client: FlaskClient, payload: dict[str, object], field: str, sessions: sessionmaker[Session]
) -> None:
    response = client.post("/v1/documents", json=payload)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json["errors"]}
    assert _count(sessions) == 0


WIDE = "1" + "0" * 30


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", '{"content": "ok", "metadata": {"id": 18446744073709551616}}', "json.metadata.id"),
        (
            "",
            '{"content": "ok", "metadata": {"ids": [1, -9223372036854775809]}}',
            "json.metadata.ids.1",
        ),
        (
            "/batch",
            f'{{"documents": [{{"content": "ok", "metadata": {{"n": {WIDE}}}}}]}}',
            "json.documents.0.metadata.n",
        ),
    ],
)
def test_integers_wider_than_64_bits_get_422_naming_the_field(
    client: FlaskClient, path: str, body: str, field: str, sessions: sessionmaker[Session]
) -> None:
    response = client.post(f"/v1/documents{path}", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    errors = {error["field"]: error["message"] for error in response.json["errors"]}
    assert errors == {field: security.UNSTORABLE_INTEGER}
    assert _count(sessions) == 0


def test_integers_at_the_edges_of_64_bits_are_accepted(client: FlaskClient) -> None:
    metadata = {"low": -(2**63), "high": 2**64 - 1, "flag": True}
    response = client.post("/v1/documents", json={"content": "ok", "metadata": metadata})
    assert response.status_code == 202
    stored = client.get(f"/v1/documents/{response.json['id']}?include=raw").json
    assert stored["raw"]["metadata"] == metadata


def test_unpaired_surrogates_get_422(client: FlaskClient) -> None:
    body = '{"content": "half \\ud800 a pair", "source": "\\udfff"}'
    response = client.post("/v1/documents", data=body, content_type="application/json")
    assert response.status_code == 422
    assert {error["field"] for error in response.json["errors"]} == {"json.content", "json.source"}


@pytest.mark.parametrize(
    "path",
    ["/v1/documents/a%00b", "/v1/stories/%00", "/v1/feed?source=a%00b", "/v1/feed?after=%00"],
)
def test_nul_in_the_url_gets_400(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.content_type == PROBLEM


@pytest.mark.parametrize("key", ["k" * 201, "tab\there", "é", ""])
def test_a_malformed_idempotency_key_gets_400(client: FlaskClient, key: str) -> None:
    response = client.post(
        "/v1/documents", json={"content": "ok"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "headers.Idempotency-Key"


def test_wrong_types_in_every_field_get_422_naming_each(client: FlaskClient) -> None:
    payload = {
        "content": 5,
        "content_type": ["text/html"],
        "title": {"a": 1},
        "url": 3,
        "source": True,
        "external_id": 1.5,
        "language": 7,
        "published_at": 1_700_000_000,
        "metadata": "not a mapping",
    }
    response = client.post("/v1/documents", json=payload)
    assert response.status_code == 422
    assert {error["field"] for error in response.json["errors"]} == {
        f"json.{name}" for name in payload
    }
    for body in ([1, 2], "text", 3, None, True):
        response = client.post(
            "/v1/documents", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 422, body
    batch = client.post("/v1/documents/batch", json={"documents": [5, None, "x", []]})
    assert batch.status_code == 422


@pytest.mark.parametrize(
    "published_at",
    [
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59",
        "2024-01-01T00:00:00+25:00",
        "2024-01-01T00:00:00+99:00",
        "2024-13-01T00:00:00Z",
        "2024-01-01T00:00:00",
        "0999-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
        "1" * 400,
    ],
)
def test_dates_out_of_range_get_422(client: FlaskClient, published_at: str) -> None:
    response = client.post("/v1/documents", json={"content": "ok", "published_at": published_at})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "json.published_at"


def test_dates_at_the_edges_of_the_range_are_accepted(client: FlaskClient) -> None:
    for published_at in ("1000-01-01T00:00:00Z", "2999-12-31T23:59:59+05:00"):
        response = client.post(
            "/v1/documents", json={"content": f"Dated {published_at}", "published_at": published_at}
        )
        assert response.status_code == 202


def test_unknown_fields_get_422_naming_them(client: FlaskClient) -> None:
    response = client.post("/v1/documents", json={"content": "ok", "colour": "red", "id": "x"})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json["errors"]}
    assert fields == {"json.colour", "json.id"}


def test_an_out_of_range_cursor_gets_400(client: FlaskClient) -> None:
    for position in ("9" * 30, "-1", "1e9", ""):
        cursor = base64.urlsafe_b64encode(f"feed:v1:{position}".encode()).decode().rstrip("=")
        assert client.get(f"/v1/feed?after={cursor}").status_code == 400


def test_a_1_mb_single_line_is_processed(client: FlaskClient) -> None:
    words = " ".join(f"w{i % 5000}" for i in range(170_000))
    content = f"One very long line {uuid.uuid4().hex} {words}"[:1_000_000]
    response = client.post("/v1/documents", json={"content": content})
    assert response.status_code == 202
    assert _finished(client, response.json["id"])["status"] == "processed"
    _assert_worker_alive(client)


def test_hostile_html_is_stored_and_served_as_plain_text(
    client: FlaskClient, seeds_dir: Path
) -> None:
    article = (seeds_dir / "000_a893fa683b4c574b.txt").read_text()
    paragraphs = "".join(f"<p>{p}</p>" for p in article.split("\n\n") if p.strip())
    html = (
        "<html><head><title>Talks &lt;script&gt;alert(1)&lt;/script&gt; "
        "<img src=x onerror=alert(2)> in Cairo</title>"
        '<meta name="author" content="<script>alert(3)</script>Jane Roe">'
        '<script>document.cookie="stolen"</script><style>p{x:expression(alert(4))}</style>'
        '</head><body onload="alert(5)"><h1 onclick="alert(6)">Headline</h1>'
        f"{paragraphs}"
        '<iframe src="javascript:alert(7)"></iframe><svg onload="alert(8)"></svg>'
        '<a href="javascript:alert(9)">link</a></body></html>'
    )
    response = client.post(
        "/v1/documents", json={"content": html, "content_type": "text/html", "title": None}
    )
    document = _finished(client, response.json["id"])
    assert document["status"] == "processed"
    for field in ("title", "byline", "text"):
        value = str(document.get(field) or "")
        assert "<" not in value or field == "text", (field, value)
        assert "alert(" not in value and "onerror" not in value, (field, value)
    shown = client.get(f"/v1/documents/{response.json['id']}?include=raw")
    assert shown.mimetype == "application/json"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'")
    feed_titles = [item["title"] for item in client.get("/v1/feed?view=documents").json["items"]]
    assert all("<" not in (title or "") for title in feed_titles)


def test_a_markup_title_sent_as_a_field_is_reduced_to_text(client: FlaskClient) -> None:
    title = "<script>alert(1)</script>Budget &amp; <b>taxes</b> <img src=x onerror=alert(2)>"
    response = client.post(
        "/v1/documents",
        json={"content": f"The council passed the budget {uuid.uuid4().hex}.", "title": title},
    )
    document = _finished(client, response.json["id"])
    assert document["title"] == "Budget & taxes"


@pytest.mark.parametrize(
    "content",
    [
        "<div>" * 100_000 + "text at the bottom" + "</div>" * 100_000,
        "<div>" * 100_000,
        "<script>alert(1)</script>" * 1000,
        "<" * 500_000,
        "<!--" * 100_000,
        "<table>" * 50_000 + "<td>" * 50_000,
    ],
    ids=["nested-divs", "unclosed-divs", "only-scripts", "brackets", "comments", "tables"],
)
def test_html_bombs_end_with_a_reason_and_the_worker_survives(
    client: FlaskClient, content: str
) -> None:
    response = client.post("/v1/documents", json={"content": content, "content_type": "text/html"})
    assert response.status_code == 202
    document = _finished(client, response.json["id"])
    if document["status"] == "failed":
        assert document["error"]
    else:
        assert str(document["text"]).strip()
    _assert_worker_alive(client)
