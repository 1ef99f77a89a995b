"""The read API: feed paging, cursors, ETags."""

from __future__ import annotations

import gc
import threading
import time

import pytest
from flask.testing import FlaskClient

from services.app import serve
from services.config import Config
from tests.helpers import processed, wait_for


def _post_many(client: FlaskClient, count: int, prefix: str) -> list[str]:
    texts = [{"content": f"{prefix} article number {i} about item {i * 7}."} for i in range(count)]
    response = client.post("/v1/documents/batch", json={"documents": texts})
    return [item["id"] for item in response.json["results"]]


def test_paging_while_four_writers_insert_sees_every_item_once(
    client: FlaskClient, worker: object
) -> None:
    first = _post_many(client, 10, "early")
    writers = [
        threading.Thread(target=_post_many, args=(client.application.test_client(), 8, f"late-{w}"))
        for w in range(4)
    ]
    for writer in writers:
        writer.start()
    seen: list[str] = []
    cursor = None
    deadline = time.monotonic() + 120
    while len(seen) < 42 and time.monotonic() < deadline:
        query = "/v1/feed?view=documents&limit=3" + (f"&after={cursor}" if cursor else "")
        page = client.get(query).json
        seen += [item["document_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not page["items"]:
            time.sleep(0.05)
    for writer in writers:
        writer.join()
    assert len(seen) == len(set(seen)) == 42
    assert set(first) <= set(seen)
    rest = client.get(f"/v1/feed?view=documents&after={cursor}").json
    assert rest["items"] == []


def test_story_view_lists_one_item_per_story(client: FlaskClient, worker: object) -> None:
    text = {"content": "The same wire story repeated word for word by 3 outlets."}
    ids = [client.post("/v1/documents", json={**text, "source": s}).json["id"] for s in "abc"]
    wait_for(lambda: processed(client, ids))
    items = client.get("/v1/feed").json["items"]
    assert len(items) == 1
    assert items[0]["duplicates"] == 2


def test_unchanged_feed_answers_304(client: FlaskClient) -> None:
    first = client.get("/v1/feed")
    etag = first.headers["ETag"]
    assert client.get("/v1/feed", headers={"If-None-Match": etag}).status_code == 304


def test_bad_query_parameters_get_400_naming_them(client: FlaskClient) -> None:
    for query, field in (
        ("after=bm90LWEtY3Vyc29y", "query.after"),
        ("limit=0", "query.limit"),
        ("limit=100000", "query.limit"),
        ("colour=red", "query.colour"),
    ):
        response = client.get(f"/v1/feed?{query}")
        assert response.status_code == 400, query
        assert response.content_type == "application/problem+json"
        assert field in {error["field"] for error in response.json["errors"]}


def test_unknown_ids_get_404_problems(client: FlaskClient) -> None:
    for path in ("/v1/documents/nope", "/v1/stories/nope"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"


def test_the_served_api_keeps_what_it_loaded_out_of_the_collector(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("REDIS_URL", config.redis_url)
    frozen = gc.get_freeze_count()
    app = serve()
    try:
        assert gc.get_freeze_count() > frozen
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        gc.unfreeze()
        app.extensions["ingest"].engine.dispose()
