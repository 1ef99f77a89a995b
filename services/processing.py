"""Process one stored document: run the stages, match it, record the result."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.pipeline.analyze import Analysis, analyze
from services.pipeline.dedup import TRANSLATION, Assessment, Candidate, Match, assess, conclude
from services.pipeline.normalize import Normalized, RawDocument, matching_form
from services.pipeline.plaintext import plain_text
from services.pipeline.tag import tag
from services.storage import documents, feed, index, stories, webhooks
from services.storage.db import lock_keys, read_scope, session_scope
from services.storage.models import PROCESSED, Document, utcnow

NEW_STORY = "new_story"
SKIPPED = "skipped"
NO_TEXT = "no_text"


@dataclass(frozen=True)
class Outcome:
    """What processing did: `new_story`, a relation name, `skipped` or `no_text`.

    `feed_seconds`: from acceptance to the commit that put it in the feed.
    `webhooks`: subscriptions now behind the feed and free to deliver.
    """

    result: str
    seconds: dict[str, float]
    feed_seconds: float | None = None
    webhooks: tuple[str, ...] = ()


def raw_document(raw: dict[str, object]) -> RawDocument:
    """Rebuild the pipeline's input from the stored raw payload."""
    published = raw.get("published_at")
    return RawDocument(
        content=str(raw["content"]),
        content_type=str(raw.get("content_type") or "text/plain"),
        title=_text(raw.get("title")),
        url=_text(raw.get("url")),
        source=_text(raw.get("source")),
        language=_text(raw.get("language")),
        published_at=datetime.fromisoformat(published) if isinstance(published, str) else None,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def process(factory: sessionmaker[Session], document_id: str, *, max_deliveries: int) -> Outcome:
    """Process the document once in its effects.

    Idempotent: a redelivered or repeated call finds the document processed
    and changes nothing. Candidates are looked up without locks; the
    decision is completed and recorded while holding locks on the
    document's fingerprint keys, after checking the documents recorded since
    the lookup, so two related documents processed at once end in one story.
    """
    with session_scope(factory) as session:
        raw = documents.begin_delivery(session, document_id, max_deliveries)
    if raw is None:
        return Outcome(SKIPPED, {})
    analysis = analyze(raw_document(raw))
    if not analysis.normalized.text.strip():
        # Markup with no text (scripts only, an HTML bomb) would otherwise
        # join every other empty document as an exact duplicate.
        with session_scope(factory) as session:
            documents.mark_failed(session, document_id, "no text left after normalization")
        return Outcome(NO_TEXT, analysis.seconds)
    started = time.perf_counter()
    # Look candidates up before taking any lock: the lookup is most of the
    # matching work, and on SQLite a write transaction excludes every other.
    with read_scope(factory) as session:
        horizon = feed.head(session)
        candidates = index.find_candidates(session, analysis.fingerprint, exclude_id=document_id)
    assessments = _assess(analysis, candidates)
    dedup_seconds = time.perf_counter() - started
    with session_scope(factory) as session:
        # Documents that could match each other share a key or the content
        # hash: locking those serializes exactly the pairs that could race.
        lock_keys(session, [analysis.fingerprint.content_hash, *analysis.fingerprint.keys])
        received_at = documents.received_at(session, document_id, unprocessed=True)
        if received_at is None:
            return Outcome(SKIPPED, analysis.seconds)
        recheck_started = time.perf_counter()
        # Entries commit in feed order, so what the lookup missed was
        # recorded after its horizon; only those are weighed now.
        late = index.find_recorded_since(
            session, analysis.fingerprint, exclude_id=document_id, after=horizon
        )
        # (On PostgreSQL the lookup's statements may each see a later state.)
        weighed = {candidate.document_id for candidate in candidates}
        assessments += _assess(analysis, [c for c in late if c.document_id not in weighed])
        match = conclude(assessments)
        dedup_seconds += time.perf_counter() - recheck_started
        result = _record(session, document_id, received_at, analysis, match)
        # After the feed append, under its lock: ordered with a deliverer
        # releasing its lease (`services.webhooks.deliver`).
        behind = webhooks.due(session, utcnow())
    feed_seconds = (utcnow() - received_at).total_seconds()
    seconds = dict(analysis.seconds)
    seconds["deduplicate"] = dedup_seconds
    seconds["store"] = time.perf_counter() - started - dedup_seconds
    return Outcome(result, seconds, max(feed_seconds, 0.0), tuple(behind))


def _assess(analysis: Analysis, candidates: list[Candidate]) -> list[Assessment]:
    return assess(
        analysis.fingerprint, analysis.language.code, analysis.normalized.published_at, candidates
    )


def _record(
    session: Session,
    document_id: str,
    received_at: datetime,
    analysis: Analysis,
    match: Match | None,
) -> str:
    normalized = analysis.normalized
    if match is None:
        story = stories.start(session, document_id)
        link, story_update = documents.Link(), True
    else:
        story_update = match.relation == TRANSLATION
        story = stories.join(session, match.story_id, new_revision=story_update)
        link = documents.Link(match.relation, match.score, match.evidence)
        link = _keep_first_arrival_canonical(session, story, document_id, received_at, link)
    tags = [tag.to_json() for tag in analysis.tags]
    found = {
        # Shown in every API answer and feed item: plain text, never markup.
        "title": plain_text(normalized.title),
        "byline": plain_text(normalized.byline),
        "published_at": normalized.published_at,
        "language": analysis.language.code,
        "language_confidence": analysis.language.confidence,
        "text": normalized.text,
        "content_hash": analysis.fingerprint.content_hash,
        "tags": tags,
        "story_id": story.id,
    }
    documents.record(session, document_id, found, link, source=normalized.source)
    index.add(
        session,
        document_id,
        story.id,
        analysis.language.code,
        normalized.published_at,
        analysis.fingerprint,
    )
    feed.append(session, document_id, story.id, story.revision, story_update=story_update)
    return NEW_STORY if match is None else match.relation


def _keep_first_arrival_canonical(
    session: Session,
    story: stories.Joined,
    document_id: str,
    received_at: datetime,
    link: documents.Link,
) -> documents.Link:
    # Workers may finish documents out of arrival order; the story's canonical
    # document is the first to arrive, so an earlier arrival takes its place
    # and the former canonical carries the link (every relation is symmetric).
    # Returns the link the recorded document keeps.
    canonical_received = documents.received_at(session, story.canonical_id)
    if canonical_received is None or canonical_received <= received_at:
        return link
    documents.relink(session, story.canonical_id, link)
    stories.make_canonical(session, story.id, document_id)
    return documents.Link()


def retag(factory: sessionmaker[Session], document_id: str) -> bool:
    """Tag a processed document again with the current taxonomy and gazetteers.

    Reads the stored normalized text, never the raw input, and changes only
    the tags. Idempotent. Returns False when the document is not processed.
    """
    with session_scope(factory) as session:
        document = session.get(Document, document_id, with_for_update=True)
        if document is None or document.status != PROCESSED:
            return False
        text = document.text or ""
        normalized = Normalized(
            text=text,
            title=document.title,
            byline=document.byline,
            published_at=document.published_at,
            source=document.source,
            matching_text=matching_form(text),
        )
        tags = tag(normalized, document.language or "und")
        documents.replace_tags(session, document, [t.to_json() for t in tags])
    return True
