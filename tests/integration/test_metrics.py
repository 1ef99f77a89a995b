"""Metrics, the pipeline summary and the JSON logs move when documents go through."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from services.app import create_app
from services.config import Config
from services.logs import JsonFormatter
from services.queue import enqueue_processing
from services.storage.models import Document
from services.supervisor import free_port
from tests.helpers import status, wait_for


def _samples(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def _value(client: FlaskClient, name: str, **labels: str) -> float:
    return _samples(client).get((name, frozenset(labels.items())), 0.0)


def _broken_document(client: FlaskClient, sessions: sessionmaker[Session]) -> str:
    # A stored row whose raw payload lost its content cannot be processed.
    with sessions.begin() as session:
        broken = Document(raw={"content_type": "text/plain"}, deliveries=0)
        session.add(broken)
    enqueue_processing(client.application.extensions["ingest"].celery, [broken.id])
    wait_for(lambda: status(client, broken.id) == "failed")
    return broken.id


def test_processing_moves_counters_and_histograms(client: FlaskClient, worker: object) -> None:
    names = [
        ("ingest_documents_accepted_total", {}),
        ("ingest_documents_processed_total", {"outcome": "new_story"}),
        ("ingest_feed_latency_seconds_count", {}),
        *(
            ("ingest_stage_duration_seconds_count", {"stage": stage})
            for stage in ("normalize", "language", "tag", "fingerprint", "deduplicate", "store")
        ),
    ]
    before = [_value(client, name, **labels) for name, labels in names]
    latency = _value(client, "ingest_feed_latency_seconds_count")
    text = "The harbour authority opened a new ferry terminal on Tuesday.\n\nIt cost 40 million."
    document_id = client.post("/v1/documents", json={"content": text}).json["id"]
    wait_for(lambda: _value(client, "ingest_feed_latency_seconds_count") > latency)
    assert status(client, document_id) == "processed"
    for (name, labels), value in zip(names, before, strict=True):
        assert _value(client, name, **labels) >= value + 1, (name, labels)
    assert _value(client, "ingest_feed_latency_seconds_sum") > 0
    samples = _samples(client)
    assert samples[("ingest_documents", frozenset({("status", "processed")}))] >= 1
    assert ("ingest_queue_length", frozenset({("queue", "documents")})) in samples


def test_rejections_are_counted_by_reason(client: FlaskClient) -> None:
    invalid = _value(client, "ingest_documents_rejected_total", reason="invalid_fields")
    media = _value(client, "ingest_documents_rejected_total", reason="unsupported_media_type")
    assert client.post("/v1/documents", json={"title": "no content"}).status_code == 422
    assert client.post("/v1/documents", data="x", content_type="text/plain").status_code == 415
    batch = client.post("/v1/documents/batch", json={"documents": [{"content": ""}]})
    assert batch.status_code == 200
    assert _value(client, "ingest_documents_rejected_total", reason="invalid_fields") == invalid + 2
    assert (
        _value(client, "ingest_documents_rejected_total", reason="unsupported_media_type")
        == media + 1
    )


def test_a_repeat_is_not_counted_as_accepted(client: FlaskClient, worker: object) -> None:
    payload = {"content": "A repeated bulletin.", "source": "metrics", "external_id": "r-1"}
    accepted = _value(client, "ingest_documents_accepted_total")
    repeated = _value(client, "ingest_documents_repeated_total")
    assert client.post("/v1/documents", json=payload).status_code == 202
    assert client.post("/v1/documents", json=payload).status_code == 200
    assert _value(client, "ingest_documents_accepted_total") == accepted + 1
    assert _value(client, "ingest_documents_repeated_total") == repeated + 1


def test_a_failure_is_counted_with_its_exception_type(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    failed = _value(client, "ingest_documents_processed_total", outcome="failed")
    key = {"task": "ingest.process_document", "exception": "KeyError"}
    errors = _value(client, "ingest_task_failures_total", **key)
    _broken_document(client, sessions)
    wait_for(lambda: _value(client, "ingest_task_failures_total", **key) == errors + 1)
    assert _value(client, "ingest_documents_processed_total", outcome="failed") == failed + 1


def test_feed_requests_are_counted_by_route(client: FlaskClient) -> None:
    labels = {"route": "/v1/feed", "status": "200"}
    before = _value(client, "ingest_feed_requests_total", **labels)
    assert client.get("/v1/feed").status_code == 200
    assert _value(client, "ingest_feed_requests_total", **labels) == before + 1


def test_summary_shows_throughput_stories_and_failures(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session], app: Flask
) -> None:
    text = "Volunteers planted 3000 trees along the river on Saturday.\n\nMore are planned."
    document_id = client.post("/v1/documents", json={"content": text, "title": "Trees"}).json["id"]
    wait_for(lambda: status(client, document_id) == "processed")
    broken_id = _broken_document(client, sessions)
    empty = {"content": "<script>track()</script>", "content_type": "text/html", "title": "Empty"}
    empty_id = client.post("/v1/documents", json=empty).json["id"]
    wait_for(lambda: status(client, empty_id) == "failed")
    summary = client.get("/v1/dashboard/summary").json
    assert summary["counts"]["processed"] == 1
    assert summary["counts"]["failed"] == 2
    # Nothing a retry could change is counted or listed as a failure.
    assert summary["failed_count"] == 1
    assert isinstance(summary["queue_length"], int)
    assert len(summary["throughput"]) == 90
    assert summary["window_seconds"] == 900
    assert sum(point["received"] for point in summary["throughput"]) == 3
    assert sum(point["processed"] for point in summary["throughput"]) == 1
    assert [story["languages"] for story in summary["stories"]] == [["en"]]
    assert summary["stories"][0]["title"] == "Trees"
    assert [item["id"] for item in summary["failed"]] == [broken_id]
    assert "KeyError" in summary["failed"][0]["error"]
    assert [(item["id"], item["quality"]) for item in summary["set_aside"]] == [
        (empty_id, "no_text")
    ]
    assert summary["set_aside"][0]["title"] == "Empty"
    stages = {stage["stage"]: stage for stage in summary["stages"]}
    assert stages["normalize"]["count"] >= 1
    assert 0 < stages["normalize"]["p50_seconds"] <= stages["normalize"]["p95_seconds"]
    assert summary["feed_latency"]["count"] >= 1
    # A new API process reads the same figures: they are stored, not in its memory.
    restarted = create_app(app.extensions["ingest"].config)
    restarted.test_client_class = type(client)
    try:
        again = restarted.test_client().get("/v1/dashboard/summary").json
    finally:
        restarted.extensions["ingest"].engine.dispose()
    assert again["stages"] == summary["stages"]
    assert again["feed_latency"] == summary["feed_latency"]


def test_scrape_reports_whether_the_stores_answer(client: FlaskClient) -> None:
    # Live workers are counted from the heartbeats a worker process sends
    # once started from the command line: tests/e2e/test_prometheus.py.
    assert _value(client, "ingest_dependency_up", dependency="redis") == 1
    assert _value(client, "ingest_dependency_up", dependency="database") == 1


def test_accepted_documents_are_counted_by_site(client: FlaskClient) -> None:
    name = "ingest_source_documents_total"
    sites = ("spiegel.de", "bbc.co.uk", "unknown")
    before = {site: _value(client, name, source=site) for site in sites}
    single = {
        "content": "Rain is expected on Monday in the north.",
        "source": "Spiegel.de",
        "external_id": uuid.uuid4().hex,
    }
    assert client.post("/v1/documents", json=single).status_code == 202
    batch = [
        # The URL's registered domain wins over a source that names no domain.
        {
            "content": "Snow closed two passes on Sunday.",
            "source": "Reuters",
            "url": "https://www.bbc.co.uk/news/1",
        },
        {"content": "Snow closed two passes on Sunday again."},
        {"content": "Snow closed a third pass on Sunday.", "source": "Reuters"},
        {"title": "no content", "source": "Spiegel.de"},
    ]
    assert client.post("/v1/documents/batch", json={"documents": batch}).status_code == 200
    assert client.post("/v1/documents", json=single).status_code == 200
    after = {site: _value(client, name, source=site) for site in sites}
    assert after == {
        "spiegel.de": before["spiegel.de"] + 1,
        "bbc.co.uk": before["bbc.co.uk"] + 1,
        "unknown": before["unknown"] + 2,
    }


def test_pages_without_an_article_and_all_documents_share_the_site_label(
    client: FlaskClient, worker: object
) -> None:
    wall = {
        "title": "Regierung beschließt Haushalt",
        "content": "Wir setzen auf unserer Website Cookies und andere Technologien ein, um "
        "Ihnen ein optimales Nutzungserlebnis zu bieten. Mit „Alle akzeptieren“ stimmen Sie "
        "der Verarbeitung Ihrer Daten durch uns und unsere Partner zu.",
        "url": "https://www.nachrichten.example.de/politik/haushalt-1",
        "source": "Nachrichten",
    }
    names = ("ingest_no_article_documents_total", "ingest_source_documents_total")
    before = [_value(client, name, source="example.de") for name in names]
    document_id = client.post("/v1/documents", json=wall).json["id"]
    wait_for(lambda: status(client, document_id) == "processed")
    # The alert on sites mostly without an article divides one by the other.
    assert [_value(client, name, source="example.de") for name in names] == [
        value + 1 for value in before
    ]


def test_dashboard_page_is_served_with_a_strict_policy(client: FlaskClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = page.get_data(as_text=True)
    assert '<script src="/dashboard/static/dashboard.js"' in html
    assert "<script>" not in html and "style=" not in html
    script = client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200
    assert "/v1/dashboard/summary" in script.get_data(as_text=True)
    script.close()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Yield the JSON lines the worker's loggers write during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("workers.tasks", "celery.app.trace")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield stream
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_worker_log_lines_carry_document_and_task_ids(
    client: FlaskClient, worker: object, json_lines: io.StringIO
) -> None:
    document_id = client.post("/v1/documents", json={"content": "Logged words."}).json["id"]
    wait_for(lambda: status(client, document_id) == "processed")
    wait_for(lambda: document_id in json_lines.getvalue())
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    mine = [line for line in lines if line.get("document_id") == document_id]
    assert mine, lines
    assert all(line["task_id"] and line["level"] and line["time"] for line in mine)
    assert any(line["logger"] == "workers.tasks" for line in mine)


def test_a_store_that_does_not_answer_is_reported_down(config: Config) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(replace(config, redis_url=closed, auth_mode="open"))
    try:
        samples = _samples(app.test_client())
    finally:
        app.extensions["ingest"].engine.dispose()
    assert samples[("ingest_dependency_up", frozenset({("dependency", "redis")}))] == 0
    assert samples[("ingest_dependency_up", frozenset({("dependency", "database")}))] == 1
    # Without Redis neither the queue nor the workers can be read: left out, not zero.
    assert not [
        name for name, _ in samples if name in ("ingest_queue_length", "ingest_workers_alive")
    ]
