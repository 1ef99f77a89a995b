"""Webhook deliveries: each matching feed item POSTed, signed, in feed order.

Signatures follow Standard Webhooks (https://www.standardwebhooks.com):
headers `webhook-id`, `webhook-timestamp` and `webhook-signature:
v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed by the
base64-decoded part of the `whsec_…` secret. Delivery is at least once: a
receiver deduplicates by `webhook-id` (the same for every retry of an item).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session, sessionmaker

from services.feeds import items
from services.storage import feed, webhooks
from services.storage.db import FEED_LOCK, lock, session_scope
from services.storage.feed import Filter
from services.storage.models import new_id, utcnow

SECRET_PREFIX = "whsec_"
EVENT_TYPE = "feed.item"
TOLERANCE_SECONDS = 300
BATCH = 50

CAUGHT_UP = "caught_up"
MORE = "more"
BUSY = "busy"
RETRY = "retry"
DISABLED = "disabled"
LOST = "lost_lease"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(text: str) -> tuple[Network, ...]:
    """Parse a comma-separated list of networks ("10.0.0.0/8, fd00::/8")."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def refusal(url: str, allowed: Sequence[Network] = ()) -> str | None:
    """Return why the URL may not receive webhooks, or None when it may.

    Every address the host resolves to must be public or in `allowed`: a
    subscription must not turn the service into a client of its own network
    (loopback, private ranges, link-local cloud metadata addresses).
    """
    host = urlsplit(url).hostname
    if not host:
        return "the URL has no host"
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        return f"{host} does not resolve: {error}"
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not (address.is_global or any(address in network for network in allowed)):
            return f"{host} resolves to {address}, not a public address"
    return None


@dataclass(frozen=True)
class Settings:
    """Delivery limits, from the service configuration."""

    timeout_seconds: float = 10
    max_failures: int = 10
    backoff_seconds: float = 1
    backoff_max_seconds: float = 600
    # Non-public addresses a receiver may have (WEBHOOK_ALLOWED_NETWORKS).
    allowed_networks: tuple[Network, ...] = ()


@dataclass(frozen=True)
class Attempt:
    """What one HTTP POST did."""

    ok: bool
    status_code: int | None
    error: str | None
    seconds: float


@dataclass(frozen=True)
class Outcome:
    """What a delivery run did; `retry_in` is set when the caller should retry."""

    status: str
    delivered: int = 0
    retry_in: float | None = None


Sender = Callable[[str, bytes, Mapping[str, str], float], Attempt]


def new_secret() -> str:
    """Return a fresh signing secret, shown to the subscriber once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` header value for a message."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """Return whether the headers carry a valid, fresh signature of the body (receiver side)."""
    try:
        message_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        offered = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, signature) for signature in offered)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
    """POST the body; any 2xx answer is a success, anything else a failure."""
    started = time.perf_counter()
    try:
        response = requests.post(
            url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}", _since(started))
    ok = 200 <= response.status_code < 300
    problem = None if ok else f"HTTP {response.status_code}"
    return Attempt(ok, response.status_code, problem, _since(started))


def _since(started: float) -> float:
    return time.perf_counter() - started


def backoff(failures: int, settings: Settings) -> float:
    """Return the delay before the next attempt: doubling per failure, jittered, capped."""
    delay = settings.backoff_seconds * 2 ** max(failures - 1, 0)
    return min(settings.backoff_max_seconds, delay) * random.uniform(0.75, 1.25)


def message(webhook_id: str, item: dict[str, object], now: datetime) -> tuple[str, bytes]:
    """Return the message id (stable across retries) and JSON body for an item."""
    message_id = f"msg_{webhook_id}_{item['cursor']}"
    body = {"type": EVENT_TYPE, "timestamp": now.isoformat(), "data": item}
    return message_id, json.dumps(body, ensure_ascii=False).encode()


def deliver(
    sessions: sessionmaker[Session],
    webhook_id: str,
    settings: Settings,
    *,
    send: Sender = post,
    now: Callable[[], datetime] = utcnow,
    batch: int = BATCH,
) -> Outcome:
    """Deliver the webhook's next matching items, in order, one POST each.

    Holds the webhook's lease, never a transaction, during HTTP. Stops at the
    first failure (its position is kept, the caller retries after
    `retry_in`). Idempotent: the position advances only past delivered
    items, and entries the filter skips, up to the head read before the scan.
    """
    token = new_id()
    lease = timedelta(seconds=settings.timeout_seconds * 2 + 30)
    with session_scope(sessions) as session:
        if not webhooks.claim(session, webhook_id, token, now(), lease):
            return Outcome(BUSY)
        webhook = webhooks.holding(session, webhook_id, token)
        assert webhook is not None
        url, secret, after = webhook.url, webhook.secret, webhook.delivered_seq
        flt = Filter.from_json(webhook.filter)
        top = feed.head(session)
        found = feed.entries(session, flt, after=after, limit=batch)
        page = [items.dump(item) for item in items.build(feed.load(session, found, flt.view))]
    delivered = 0
    for entry, item in zip(found, page, strict=True):
        message_id, body = message(webhook_id, item, now())
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "news-ingest-webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id, timestamp, body),
        }
        # Checked at each delivery, not only at subscription: DNS answers change.
        refused = refusal(url, settings.allowed_networks)
        attempt = (
            Attempt(False, None, f"refused: {refused}", 0.0)
            if refused
            else send(url, body, headers, settings.timeout_seconds)
        )
        with session_scope(sessions) as session:
            webhook = webhooks.holding(session, webhook_id, token)
            if webhook is None:
                return Outcome(LOST, delivered)
            logged = webhooks.AttemptRecord(
                seq=entry.seq,
                message_id=message_id,
                ok=attempt.ok,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=round(attempt.seconds * 1000),
            )
            webhooks.record(session, webhook, logged, now=now())
            if not attempt.ok:
                delay = backoff(webhook.failures, settings)
                until = now() + timedelta(seconds=delay)
                enabled = webhooks.back_off(
                    session, webhook, until=until, disable_after=settings.max_failures
                )
                return Outcome(RETRY, delivered, delay) if enabled else Outcome(DISABLED, delivered)
            webhook.lease_until = now() + lease
        delivered += 1
    complete = len(found) < batch
    with session_scope(sessions) as session:
        # Taken in feed order: a document being recorded meanwhile either
        # commits its entry before the head is read here, or finds the lease
        # released when it asks which webhooks are behind. None is missed.
        lock(session, FEED_LOCK)
        webhooks.release(session, webhook_id, token, advance_to=top if complete else 0)
        webhook = webhooks.get(session, webhook_id)
        behind = webhook is not None and webhook.delivered_seq < feed.head(session)
    return Outcome(MORE if behind else CAUGHT_UP, delivered)
