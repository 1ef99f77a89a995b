"""Process one stored document: run the stages, match it, record the result."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.pipeline.analyze import Analysis, analyze
from services.pipeline.dedup import TRANSLATION, Candidate, Match, decide
from services.pipeline.normalize import Normalized, RawDocument, matching_form
from services.pipeline.plaintext import plain_text
from services.pipeline.tag import tag
from services.storage import documents, feed, index, stories
from services.storage.db import lock_keys, read_scope, session_scope
from services.storage.models import PROCESSED, Document, DocumentTag, Story, utcnow

NEW_STORY = "new_story"
SKIPPED = "skipped"
NO_TEXT = "no_text"


@dataclass(frozen=True)
class Outcome:
    """What processing did: `new_story`, a relation name, `skipped` or `no_text`.

    `feed_seconds`: from acceptance to the commit that put it in the feed.
    """

    result: str
    seconds: dict[str, float]
    feed_seconds: float | None = None


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
        document = documents.begin_delivery(session, document_id, max_deliveries)
        raw = dict(document.raw) if document is not None else None
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
    match = _decide(analysis, candidates)
    dedup_seconds = time.perf_counter() - started
    with session_scope(factory) as session:
        # Documents that could match each other share a key or the content
        # hash: locking those serializes exactly the pairs that could race.
        lock_keys(session, [analysis.fingerprint.content_hash, *analysis.fingerprint.keys])
        document = session.get(Document, document_id, populate_existing=True)
        if document is None or document.status == PROCESSED:
            return Outcome(SKIPPED, analysis.seconds)
        recheck_started = time.perf_counter()
        # Entries commit in feed order, so what the lookup missed was
        # recorded after its horizon.
        late = index.find_recorded_since(
            session, analysis.fingerprint, exclude_id=document_id, after=horizon
        )
        if late:
            match = _decide(analysis, [*candidates, *late])
        dedup_seconds += time.perf_counter() - recheck_started
        result = _record(session, document, analysis, match)
    feed_seconds = (utcnow() - document.received_at).total_seconds()
    seconds = dict(analysis.seconds)
    seconds["deduplicate"] = dedup_seconds
    seconds["store"] = time.perf_counter() - started - dedup_seconds
    return Outcome(result, seconds, max(feed_seconds, 0.0))


def _decide(analysis: Analysis, candidates: list[Candidate]) -> Match | None:
    unique = list({candidate.document_id: candidate for candidate in candidates}.values())
    return decide(
        analysis.fingerprint, analysis.language.code, analysis.normalized.published_at, unique
    )


def _keep_first_arrival_canonical(session: Session, story: Story, document: Document) -> None:
    # Workers may finish documents out of arrival order; the story's canonical
    # document is the first to arrive, so an earlier arrival takes its place
    # and the former canonical carries the link (every relation is symmetric).
    canonical = session.get(Document, story.canonical_id)
    if canonical is None or canonical.received_at <= document.received_at:
        return
    canonical.relation, canonical.score = document.relation, document.score
    canonical.evidence = document.evidence
    document.relation, document.score, document.evidence = None, None, None
    story.canonical_id = document.id


def _record(session: Session, document: Document, analysis: Analysis, match: Match | None) -> str:
    normalized = analysis.normalized
    # Shown in every API answer and feed item: plain text, never markup.
    document.title = plain_text(normalized.title)
    document.byline = plain_text(normalized.byline)
    document.published_at = normalized.published_at
    document.language = analysis.language.code
    document.language_confidence = analysis.language.confidence
    document.text = normalized.text
    document.content_hash = analysis.fingerprint.content_hash
    document.tags = [asdict(tag) for tag in analysis.tags]
    if normalized.source and not document.source:
        document.source = normalized.source
    if match is None:
        story = stories.start(session, document)
        document.relation, document.score, document.evidence = None, None, None
        story_update = True
    else:
        story_update = match.relation == TRANSLATION
        story = stories.join(session, match.story_id, new_revision=story_update)
        document.relation, document.score = match.relation, match.score
        document.evidence = match.evidence
        _keep_first_arrival_canonical(session, story, document)
    document.story_id = story.id
    document.status = PROCESSED
    document.error = None
    document.processed_at = utcnow()
    session.add_all(
        DocumentTag(tag_id=tag_id, document_id=document.id)
        for tag_id in sorted({tag.id for tag in analysis.tags})
    )
    index.add(session, document, analysis.fingerprint)
    session.flush()
    feed.append(session, document.id, story.id, story.revision, story_update=story_update)
    return NEW_STORY if match is None else match.relation


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
        documents.replace_tags(session, document, [asdict(t) for t in tags])
    return True
