"""Repository functions for webhooks: subscriptions, delivery leases, the delivery log.

A delivery holds a lease on its webhook instead of a database lock, so the
HTTP request runs outside any transaction and one worker at a time
delivers in feed order. Caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from services.storage.models import FeedEntry, Webhook, WebhookDelivery, new_id, table


def create(
    session: Session, *, url: str, secret: str, flt: dict[str, Any], delivered_seq: int
) -> Webhook:
    """Store a new, enabled webhook that delivers entries after `delivered_seq`."""
    webhook = Webhook(
        id=new_id(),
        url=url,
        secret=secret,
        filter=flt,
        delivered_seq=delivered_seq,
        enabled=True,
        failures=0,
    )
    session.add(webhook)
    session.flush()
    return webhook


def get(session: Session, webhook_id: str) -> Webhook | None:
    """Return the webhook, or None."""
    return session.get(Webhook, webhook_id)


def listed(session: Session) -> list[Webhook]:
    """Return every webhook, oldest first."""
    return list(session.scalars(select(Webhook).order_by(Webhook.created_at, Webhook.id)))


def remove(session: Session, webhook_id: str) -> bool:
    """Delete the webhook and its delivery log; False if it did not exist."""
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    return bool(session.execute(delete(Webhook).where(Webhook.id == webhook_id)).rowcount)  # type: ignore[attr-defined]


def set_enabled(session: Session, webhook_id: str, enabled: bool) -> Webhook | None:
    """Enable or disable the webhook; enabling forgets past failures. None if unknown."""
    webhook = session.get(Webhook, webhook_id, with_for_update=True)
    if webhook is None:
        return None
    webhook.enabled = enabled
    if enabled:
        webhook.failures = 0
        webhook.next_attempt_at = None
        webhook.disabled_reason = None
    else:
        webhook.disabled_reason = "disabled by request"
    session.flush()
    return webhook


def deliveries(
    session: Session, webhook_id: str, *, limit: int, before: int | None = None
) -> list[WebhookDelivery]:
    """Return the webhook's delivery attempts, newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def claim(session: Session, webhook_id: str, token: str, now: datetime, lease: timedelta) -> bool:
    """Take the webhook's delivery lease unless a live one is held; return whether taken.

    A worker that dies loses its lease when `lease_until` passes.
    """
    taken = session.execute(
        update(Webhook)
        .where(
            Webhook.id == webhook_id,
            Webhook.enabled.is_(True),
            or_(Webhook.lease_until.is_(None), Webhook.lease_until < now),
        )
        .values(lease_token=token, lease_until=now + lease)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def holding(session: Session, webhook_id: str, token: str) -> Webhook | None:
    """Return the webhook, locked, if the token still holds its lease."""
    webhook = session.get(Webhook, webhook_id, with_for_update=True, populate_existing=True)
    if webhook is None or webhook.lease_token != token:
        return None
    return webhook


@dataclass(frozen=True)
class AttemptRecord:
    """One delivery attempt as logged: the feed entry, its message id and how it went."""

    seq: int
    message_id: str
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def record(
    session: Session, webhook: Webhook, attempt: AttemptRecord, *, now: datetime
) -> WebhookDelivery:
    """Log one attempt and advance the webhook's position or count its failure."""
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        seq=attempt.seq,
        message_id=attempt.message_id,
        attempt=webhook.failures + 1,
        ok=attempt.ok,
        status_code=attempt.status_code,
        error=attempt.error[:2000] if attempt.error else None,
        duration_ms=attempt.duration_ms,
        created_at=now,
    )
    session.add(delivery)
    if attempt.ok:
        webhook.delivered_seq = max(webhook.delivered_seq, attempt.seq)
        webhook.failures = 0
        webhook.next_attempt_at = None
    else:
        webhook.failures += 1
    session.flush()
    return delivery


def back_off(session: Session, webhook: Webhook, *, until: datetime, disable_after: int) -> bool:
    """Release the lease after a failure; disable after `disable_after` failures in a row.

    Returns whether the webhook stays enabled.
    """
    webhook.lease_token = None
    webhook.lease_until = None
    webhook.next_attempt_at = until
    if webhook.failures >= disable_after:
        webhook.enabled = False
        webhook.disabled_reason = f"{webhook.failures} failed deliveries in a row"
    session.flush()
    return webhook.enabled


def release(session: Session, webhook_id: str, token: str, *, advance_to: int) -> None:
    """Give up the lease; move the position to `advance_to` if that is further."""
    webhook = holding(session, webhook_id, token)
    if webhook is None:
        return
    webhook.delivered_seq = max(webhook.delivered_seq, advance_to)
    webhook.lease_token = None
    webhook.lease_until = None
    session.flush()


def due(session: Session, now: datetime) -> list[str]:
    """Return enabled webhooks behind the feed head, not backing off and not being delivered."""
    # Core, not ORM: every processed document asks.
    hooks = table(Webhook)
    head = select(func.coalesce(func.max(table(FeedEntry).c.seq), 0)).scalar_subquery()
    return list(
        session.scalars(
            select(hooks.c.id).where(
                hooks.c.enabled.is_(True),
                hooks.c.delivered_seq < head,
                or_(hooks.c.next_attempt_at.is_(None), hooks.c.next_attempt_at <= now),
                or_(hooks.c.lease_until.is_(None), hooks.c.lease_until < now),
            )
        )
    )
