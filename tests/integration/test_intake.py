"""Intake over HTTP against the real database and broker."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from services.app import create_app
from services.config import Config
from services.storage.models import Document

PROBLEM = "application/problem+json"


@pytest.fixture
def threaded_app(config: Config, request: pytest.FixtureRequest) -> Flask:
    """An app of the test's own, for clients in several threads at once."""
    app = create_app(config)
    request.addfinalizer(app.extensions["ingest"].engine.dispose)
    return app


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Document)) or 0)


def test_accepts_a_document_and_stores_it_queued(
    client: FlaskClient, sessions: sessionmaker[Session], seeds_dir: Path
) -> None:
    content = (seeds_dir / "000_a893fa683b4c574b.txt").read_text()
    response = client.post("/v1/documents", json={"content": content, "source": "t"})
    assert response.status_code == 202
    assert client.application.extensions["ingest"].sender.flush()
    assert response.headers["Location"] == f"/v1/documents/{response.json['id']}"
    with sessions() as session:
        stored = session.get(Document, response.json["id"])
        assert stored is not None
        assert stored.raw["content"] == content
        assert stored.status in ("queued", "processing", "processed")
        assert stored.enqueued_at is not None


def test_same_idempotency_key_returns_the_first_id(client: FlaskClient) -> None:
    headers = {"Idempotency-Key": "key-1"}
    first = client.post("/v1/documents", json={"content": "one text"}, headers=headers)
    again = client.post("/v1/documents", json={"content": "other text"}, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json["id"] == first.json["id"]


def test_same_source_and_external_id_returns_the_first_id(client: FlaskClient) -> None:
    body = {"content": "some text", "source": "wire", "external_id": "a-1"}
    first = client.post("/v1/documents", json=body)
    again = client.post("/v1/documents", json={**body, "content": "edited"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json["id"] == first.json["id"]


def test_racing_repeats_store_one_document(
    threaded_app: Flask, sessions: sessionmaker[Session], auth_headers: dict[str, str]
) -> None:
    body = {"content": "raced text", "source": "race", "external_id": "r-1"}

    def post(_: int) -> tuple[int, str]:
        with threaded_app.test_client() as client:
            response = client.post("/v1/documents", json=body, headers=auth_headers)
            return response.status_code, response.json["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(16)))
    assert len({document_id for _, document_id in results}) == 1
    assert sorted(status for status, _ in results).count(202) == 1
    assert _count(sessions) == 1


def test_invalid_fields_get_422_per_field_and_store_nothing(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    response = client.post(
        "/v1/documents",
        json={"content": "   ", "published_at": "last tuesday", "language": 7, "colour": "red"},
    )
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    fields = {error["field"] for error in response.json["errors"]}
    assert fields == {"json.content", "json.published_at", "json.language", "json.colour"}
    assert _count(sessions) == 0


def test_wrong_content_type_gets_415(client: FlaskClient) -> None:
    response = client.post("/v1/documents", data="plain words", content_type="text/plain")
    assert response.status_code == 415
    assert response.content_type == PROBLEM


def test_malformed_json_gets_400(client: FlaskClient) -> None:
    response = client.post("/v1/documents", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert response.json["errors"][0]["field"] == "json"


def test_document_over_the_limit_gets_413(
    config: Config,
    sessions: sessionmaker[Session],
    api_token: str,
    request: pytest.FixtureRequest,
) -> None:
    small = create_app(Config.from_env({}, **{**config.__dict__, "max_document_bytes": 1000}))
    request.addfinalizer(small.extensions["ingest"].engine.dispose)
    with small.test_client() as client:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
        response = client.post("/v1/documents", json={"content": "x" * 5000})
        assert response.status_code == 413
        assert response.content_type == PROBLEM
        huge = client.post("/v1/documents", json={"content": "x" * 200_000})
        assert huge.status_code == 413
    assert _count(sessions) == 0


def test_batch_reports_each_item(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    documents = [
        {"content": "first article text"},
        {"content": ""},
        {"content": "second", "source": "s", "external_id": "1"},
        {"content": "second again", "source": "s", "external_id": "1"},
    ]
    response = client.post("/v1/documents/batch", json={"documents": documents})
    assert response.status_code == 200
    statuses = [item["status"] for item in response.json["results"]]
    assert statuses == [202, 422, 202, 200]
    results = response.json["results"]
    assert results[2]["id"] == results[3]["id"]
    assert results[1]["problem"]["errors"][0]["field"] == "json.documents.1.content"
    assert (response.json["accepted"], response.json["repeated"]) == (2, 1)
    assert _count(sessions) == 2


def test_batch_repeating_stored_documents_returns_the_first_ids(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    stored = client.post(
        "/v1/documents", json={"content": "first", "source": "s", "external_id": "1"}
    )
    documents = [
        {"content": "new", "source": "s", "external_id": "2"},
        {"content": "first again", "source": "s", "external_id": "1"},
        {"content": "no key"},
        {"content": "new again", "source": "s", "external_id": "2"},
        {"content": "same id, other source", "source": "t", "external_id": "1"},
    ]
    response = client.post("/v1/documents/batch", json={"documents": documents})
    results = response.json["results"]
    assert [item["status"] for item in results] == [202, 200, 202, 200, 202]
    assert results[1]["id"] == stored.json["id"]
    assert results[3]["id"] == results[0]["id"]
    assert len({item["id"] for item in results}) == 4
    assert (response.json["accepted"], response.json["repeated"]) == (3, 2)
    assert _count(sessions) == 4


def test_racing_batches_store_each_document_once(
    threaded_app: Flask, sessions: sessionmaker[Session], auth_headers: dict[str, str]
) -> None:
    count = 100
    documents = [
        {"content": f"raced text {n}", "source": "race", "external_id": f"r-{n}"}
        for n in range(count)
    ]

    def post(number: int) -> dict[int, dict[str, Any]]:
        # Each client sends the same documents in another order, half of them reversed.
        order = [(n + 7 * number) % count for n in range(count)]
        if number % 2:
            order.reverse()
        with threaded_app.test_client() as client:
            response = client.post(
                "/v1/documents/batch",
                json={"documents": [documents[n] for n in order]},
                headers=auth_headers,
            )
        assert response.status_code == 200
        return {order[item["index"]]: item for item in response.json["results"]}

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(12)))
    for number in range(count):
        items = [answer[number] for answer in answers]
        assert len({item["id"] for item in items}) == 1
        assert [item["status"] for item in items].count(202) == 1
    assert _count(sessions) == count


def test_a_batch_body_is_parsed_once(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"documents": [{"content": f"text {n}"} for n in range(20)]})
    parses: list[str] = []
    loads = json.loads

    def counting(text: Any, **kwargs: Any) -> Any:
        parses.append(text)
        return loads(text, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    response = client.post("/v1/documents/batch", data=body, content_type="application/json")
    monkeypatch.undo()
    assert response.status_code == 200
    assert response.json["accepted"] == 20
    assert parses.count(body) == 1


def test_a_batch_of_new_documents_is_one_statement_on_the_documents(
    app: Flask, client: FlaskClient
) -> None:
    # The insert counts what it stored: only a batch it skipped rows of looks keys up.
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "documents" in statement:
            statements.append(statement.split(None, 1)[0].upper())

    new = [{"content": f"new {n}", "source": "s", "external_id": str(n)} for n in range(6)]
    engine = app.extensions["ingest"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        first = client.post("/v1/documents/batch", json={"documents": new[:5]})
        first_statements = list(statements)
        again = client.post("/v1/documents/batch", json={"documents": new[3:]})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert first.json["accepted"] == 5
    assert first_statements == ["INSERT"]
    assert (again.json["accepted"], again.json["repeated"]) == (1, 2)
    assert statements[len(first_statements) :] == ["INSERT", "SELECT"]


def test_batch_over_the_item_limit_is_rejected(client: FlaskClient) -> None:
    response = client.post("/v1/documents/batch", json={"documents": [{"content": "x"}] * 501})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "json.documents"


def test_openapi_and_offline_docs_are_served(client: FlaskClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/v1/documents" in spec.json["paths"]
    page = client.get("/docs")
    assert b"/docs/assets/swagger-ui-bundle.js" in page.data
    with client.get("/docs/assets/swagger-ui-bundle.js") as script:
        assert script.status_code == 200
        assert b"SwaggerUIBundle" in script.data
