"""The live stream (SSE): resumes by Last-Event-ID or ?after= without gaps, heartbeats."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from services.app import create_app
from services.config import Config
from tests.helpers import processed, wait_for
from tests.integration.conftest import key_client_class


@pytest.fixture(scope="module")
def stream_app(config: Config, api_token: str) -> Iterator[Flask]:
    # Short limits so a test that misses an event ends instead of hanging.
    app = create_app(
        replace(
            config,
            stream_max_seconds=20,
            stream_heartbeat_seconds=1,
            stream_poll_milliseconds=100,
        )
    )
    app.test_client_class = key_client_class(api_token)
    yield app
    app.extensions["ingest"].engine.dispose()


@pytest.fixture
def stream_client(stream_app: Flask) -> FlaskClient:
    return stream_app.test_client()


def _chunks(response: TestResponse) -> Iterator[str]:
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield block


def _events(response: TestResponse, count: int) -> list[tuple[str, dict[str, object]]]:
    events: list[tuple[str, dict[str, object]]] = []
    for block in _chunks(response):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if "data" in fields:
            events.append((fields["id"], json.loads(fields["data"])))
        if len(events) == count:
            break
    return events


def _post(client: FlaskClient, source: str, count: int, start: int = 0) -> list[str]:
    ids = [
        client.post(
            "/v1/documents",
            json={"content": f"Stream report {i} on harvest number {i * 13}.", "source": source},
        ).json["id"]
        for i in range(start, start + count)
    ]
    wait_for(lambda: processed(client, ids))
    return ids


def test_reconnecting_with_last_event_id_misses_nothing(
    stream_client: FlaskClient, worker: object
) -> None:
    posted = _post(stream_client, "stream-a", 3)
    path = "/v1/feed/stream?view=documents&source=stream-a"
    first = stream_client.get(path, buffered=False)
    assert first.mimetype == "text/event-stream"
    received = _events(first, 2)
    first.close()  # the client goes away mid-stream
    posted += _post(stream_client, "stream-a", 3, start=3)
    again = stream_client.get(path, headers={"Last-Event-ID": received[-1][0]}, buffered=False)
    received += _events(again, 4)
    again.close()
    ids = [data["document_id"] for _, data in received]
    assert sorted(ids) == sorted(posted) and len(set(ids)) == 6
    assert [event_id for event_id, _ in received] == [data["cursor"] for _, data in received]

    by_query = stream_client.get(f"{path}&after={received[2][0]}", buffered=False)
    assert [data["document_id"] for _, data in _events(by_query, 3)] == ids[3:]
    by_query.close()


def test_items_arrive_live_and_idle_streams_get_heartbeats(
    stream_client: FlaskClient, worker: object
) -> None:
    response = stream_client.get("/v1/feed/stream?view=documents&source=stream-b", buffered=False)
    blocks = _chunks(response)
    assert next(blocks).startswith("retry: ")
    assert next(blocks) == ": heartbeat"
    writer = threading.Thread(
        target=_post, args=(stream_client.application.test_client(), "stream-b", 1)
    )
    writer.start()
    [(_, item)] = _events(response, 1)
    writer.join()
    assert item["source"] == "stream-b"
    response.close()


def test_a_foreign_last_event_id_gets_400(stream_client: FlaskClient) -> None:
    response = stream_client.get("/v1/feed/stream", headers={"Last-Event-ID": "42"})
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "headers.Last-Event-ID"
