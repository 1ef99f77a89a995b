"""Webhooks: signed POSTs to a real local server, retries with backoff, a log, auto-disable."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from services import webhooks
from services.feeds.cursor import decode_cursor
from services.storage import documents, feed, stories
from services.storage import webhooks as store
from services.storage.db import session_scope
from services.storage.models import Webhook
from tests.helpers import post, status, wait_for


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers 500 to the first `fail_first` of them."""

    def __init__(self, fail_first: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b, status in self.requests if status == 204]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            status = 500 if len(self.server.requests) < self.server.fail_first else 204
            headers = {key.lower(): value for key, value in self.headers.items()}
            self.server.requests.append((headers, body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_webhooks_left(sessions: sessionmaker[Session]) -> Iterator[None]:
    yield
    with sessions.begin() as session:
        session.execute(delete(Webhook))


def _deliveries(client: FlaskClient, webhook_id: str) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/webhooks/{webhook_id}/deliveries").json["deliveries"])


def _post_processed(client: FlaskClient, source: str, text: str) -> None:
    document_id = post(client, text, source=source)
    wait_for(lambda: status(client, document_id) == "processed")


def _stored_webhook(session: Session, url: str, flt: dict[str, Any]) -> str:
    # Stored directly, from feed position 0 (the API checks the URL and the filter).
    return store.create(session, url=url, secret=webhooks.new_secret(), flt=flt, delivered_seq=0).id


def test_receiver_failing_twice_gets_the_item_once_signed(
    client: FlaskClient, worker: object, receiver: Receiver
) -> None:
    created = client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "filter": {"view": "documents", "source": ["hooked"]}},
    )
    assert created.status_code == 201, created.json
    hook = created.json
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/v1/webhooks/{hook['id']}").json
    post(client, "A story the webhook filter leaves out, about fishing boats.", source="elsewhere")
    document_id = post(
        client, "Kazakhstan opens a new bridge over the Irtysh river.", source="hooked"
    )

    [(headers, body)] = wait_for(receiver.accepted, timeout=60)  # type: ignore[misc]
    assert webhooks.verify(hook["secret"], headers, body)
    assert not webhooks.verify(hook["secret"], headers, body + b" ")
    payload = json.loads(body)
    assert payload["type"] == "feed.item"
    assert payload["data"]["document_id"] == document_id
    assert [status for _, _, status in receiver.requests] == [500, 500, 204]
    assert len({h["webhook-id"] for h, _, _ in receiver.requests}) == 1

    # The receiver answers before the attempt is logged.
    wait_for(lambda: _deliveries(client, hook["id"])[0]["ok"])
    log = _deliveries(client, hook["id"])
    assert [(d["attempt"], d["ok"], d["status_code"]) for d in log] == [
        (3, True, 204),
        (2, False, 500),
        (1, False, 500),
    ]
    state = client.get(f"/v1/webhooks/{hook['id']}").json
    assert state["enabled"] and state["failures"] == 0
    # Past the delivered item, and past entries the filter skips.
    assert decode_cursor(state["cursor"]) >= decode_cursor(payload["data"]["cursor"])

    second = post(client, "Egypt plants a million trees along the Nile delta.", source="hooked")
    wait_for(lambda: len(receiver.accepted()) == 2, timeout=60)
    wait_for(lambda: len(_deliveries(client, hook["id"])) == 4)
    assert json.loads(receiver.accepted()[1][1])["data"]["document_id"] == second
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert client.get(f"/v1/webhooks/{hook['id']}").status_code == 404


def test_webhook_is_disabled_after_consecutive_failures(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    _post_processed(client, "disable", "Kazakhstan and Egypt agree on direct flights.")
    with session_scope(sessions) as session:
        webhook_id = _stored_webhook(session, "http://127.0.0.1:9/", {})
    settings = webhooks.Settings(
        max_failures=3,
        backoff_seconds=0,
        timeout_seconds=2,
        allowed_networks=webhooks.networks("127.0.0.0/8"),
    )
    sent: list[str] = []

    def refuse(url: str, body: bytes, headers: Any, timeout: float) -> webhooks.Attempt:
        sent.append(headers["webhook-id"])
        return webhooks.Attempt(False, None, "ConnectionError: refused", 0.01)

    outcomes = [
        webhooks.deliver(sessions, webhook_id, settings, send=refuse).status for _ in range(4)
    ]
    assert outcomes == [webhooks.RETRY, webhooks.RETRY, webhooks.DISABLED, webhooks.BUSY]
    assert len(sent) == 3 and len(set(sent)) == 1
    state = client.get(f"/v1/webhooks/{webhook_id}").json
    assert not state["enabled"] and state["disabled_reason"]
    assert len(client.get(f"/v1/webhooks/{webhook_id}/deliveries").json["deliveries"]) == 3
    enabled = client.patch(f"/v1/webhooks/{webhook_id}", json={"enabled": True}).json
    assert enabled["enabled"] and enabled["failures"] == 0


def test_a_receiver_on_a_private_address_is_refused_at_delivery(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    _post_processed(client, "private", "Egypt opens a new museum in Giza.")
    with session_scope(sessions) as session:
        webhook_id = _stored_webhook(session, "http://10.0.0.1/hook", {})
    sent: list[str] = []

    def record(url: str, body: bytes, headers: Any, timeout: float) -> webhooks.Attempt:
        sent.append(url)
        return webhooks.Attempt(True, 204, None, 0.01)

    outcome = webhooks.deliver(sessions, webhook_id, webhooks.Settings(), send=record)
    assert outcome.status == webhooks.RETRY
    assert sent == []
    [attempt] = client.get(f"/v1/webhooks/{webhook_id}/deliveries").json["deliveries"]
    assert not attempt["ok"]
    assert attempt["error"].startswith("refused: 10.0.0.1 resolves to 10.0.0.1")


def test_entries_the_filter_skips_still_advance_the_position(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    _post_processed(client, "skipped", "Egypt hosts a chess championship in Luxor.")
    with session_scope(sessions) as session:
        webhook_id = _stored_webhook(session, "http://127.0.0.1:9/", {"sources": ["nobody"]})
        head = feed.head(session)
    outcome = webhooks.deliver(sessions, webhook_id, webhooks.Settings())
    assert outcome.status == webhooks.CAUGHT_UP and outcome.delivered == 0
    with sessions() as session:
        assert store.get(session, webhook_id).delivered_seq == head  # type: ignore[union-attr]


def test_a_delivery_ending_while_an_entry_is_recorded_leaves_nothing_behind(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    _post_processed(client, "raced", "Oman opens a desalination plant in Sur.")
    with session_scope(sessions) as session:
        webhook_id = _stored_webhook(session, "http://127.0.0.1:9/", {"sources": ["nobody"]})
        late_id = documents.accept(session, {"content": "Recorded while delivering."}).id
    outcomes: list[webhooks.Outcome] = []
    # A document's recording transaction has appended its entry, not yet committed.
    with session_scope(sessions) as recording:
        story = stories.start(recording, late_id)
        documents.record(recording, late_id, {"story_id": story.id}, documents.Link(), source=None)
        feed.append(recording, [feed.NewEntry(late_id, story.id, story.revision, True)])
        delivery = threading.Thread(
            target=lambda: outcomes.append(
                webhooks.deliver(sessions, webhook_id, webhooks.Settings())
            )
        )
        delivery.start()
        delivery.join(timeout=1)
        assert delivery.is_alive(), "the delivery ended without waiting for the entry"
    delivery.join(timeout=30)
    [outcome] = outcomes
    with sessions() as session:
        behind = store.get(session, webhook_id).delivered_seq < feed.head(session)  # type: ignore[union-attr]
    # Either the delivery saw the entry, or it says there is more to deliver.
    assert not behind or outcome.status == webhooks.MORE


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"url": "ftp://example.org/x"}, 422, "json.url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, 422, "json.url"),
        ({"url": "http://192.168.1.20:8080/hook"}, 422, "json.url"),
        ({"url": "http://127.0.0.1/x", "filter": {"colour": "red"}}, 422, "json.filter.colour"),
        ({"url": "http://127.0.0.1/x", "filter": {"tag": ["KZ"]}}, 422, "json.filter.tag.0"),
        ({"url": "http://127.0.0.1/x", "after": "nope"}, 400, "json.after"),
    ],
)
def test_bad_subscriptions_are_refused(
    client: FlaskClient, body: dict[str, Any], status: int, field: str
) -> None:
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json"
    assert field in {error["field"] for error in response.json["errors"]}
