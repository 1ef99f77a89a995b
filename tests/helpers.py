"""Small functions and data the test layers share: waiting on a condition, posting, a wall page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import requests
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

# A consent wall: a page without an article, counted under its site (example.de).
CONSENT = {
    "title": "Regierung beschließt Haushalt",
    "content": "Wir setzen auf unserer Website Cookies und andere Technologien ein, um Ihnen "
    "ein optimales Nutzungserlebnis zu bieten. Mit „Alle akzeptieren“ stimmen Sie der "
    "Verarbeitung Ihrer Daten durch uns und unsere Partner zu.",
    "url": "https://www.nachrichten.example.de/politik/haushalt-1",
}


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.1) -> object:
    """Poll until the predicate returns something truthy; fail loudly on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def post(client: FlaskClient, content: str, **fields: Any) -> str:
    """POST one document through the test client; return its id (it must be accepted)."""
    response = client.post("/v1/documents", json={"content": content, **fields})
    assert response.status_code == 202, response.json
    return str(response.json["id"])


def status(client: FlaskClient, document_id: str) -> str:
    """Return a document's status as the API reports it."""
    return str(client.get(f"/v1/documents/{document_id}").json["status"])


def processed(client: FlaskClient, ids: Iterable[str]) -> bool:
    """Return whether every document is processed."""
    return all(status(client, document_id) == "processed" for document_id in ids)


def http_status(url: str, document_id: str, headers: dict[str, str]) -> str:
    """Return a document's status from a running API at `url`."""
    response = requests.get(f"{url}/v1/documents/{document_id}", headers=headers, timeout=10)
    return str(response.json()["status"])


def ready(url: str) -> bool:
    """Return whether the API at `url` answers /readyz with 200."""
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def metric(client: FlaskClient, name: str, **labels: str) -> float:
    """Return one sample of the API's /metrics (0 when it has no such series)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0
