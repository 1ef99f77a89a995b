"""Process one stored document: run the stages, match it, record the result."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from services.pipeline import fingerprint as fingerprinting
from services.pipeline.analyze import Analysis, analyze
from services.pipeline.dedup import (
    TRANSLATION,
    Assessment,
    Candidate,
    Context,
    Match,
    assess,
    conclude,
)
from services.pipeline.embedding import Embedder, embedding_text
from services.pipeline.fingerprint import Fingerprint
from services.pipeline.normalize import Normalized, RawDocument, matching_form
from services.pipeline.plaintext import plain_text
from services.pipeline.related import find_related
from services.pipeline.specificity import NO_FREQUENCIES, Frequencies, fact_keys
from services.pipeline.tag import tag
from services.sites import site_label
from services.storage import documents, facts, feed, index, stories, vectors, webhooks
from services.storage.db import lock_keys, read_scope, session_scope
from services.storage.models import PROCESSED, Document, utcnow

NEW_STORY = "new_story"
SKIPPED = "skipped"
NO_TEXT = "no_text"
NO_ARTICLE = "no_article"

# Documents a task processes together: one message, and one transaction
# each to claim, look up and record them all.
BATCH = 8
# Documents of one batch weighed against each other when their vectors are
# this close, as if the vector search had found them.
BATCH_NEIGHBOUR_COSINE = 0.75


@dataclass(frozen=True)
class Outcome:
    """What processing did: `new_story`, a relation name, `no_article`, `skipped` or `no_text`.

    `feed_seconds`: from acceptance to the commit that put it in the feed.
    `site`: the registered domain of a `no_article` document's URL or
    source (`metrics.site_label`), for counting blocked crawls per site.
    """

    result: str
    seconds: dict[str, float]
    feed_seconds: float | None = None
    site: str | None = None


@dataclass(frozen=True)
class Processed:
    """What a call of `process` did.

    `outcomes`: by document id, for each document it claimed. `alone`:
    documents of a batch to process one at a time (delivered before).
    `webhooks`: subscriptions now behind the feed and free to deliver.
    """

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    alone: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()

    @property
    def fed(self) -> bool:
        """Whether the feed grew."""
        return any(o.result not in (SKIPPED, NO_TEXT) for o in self.outcomes.values())


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


def process(
    factory: sessionmaker[Session],
    document_ids: Sequence[str],
    *,
    max_deliveries: int,
    lease_seconds: float = 30,
    embedder: Embedder | None = None,
) -> Processed:
    """Process the documents, together, once in their effects.

    Idempotent: a redelivered or repeated call finds them processed and
    changes nothing. One transaction claims the documents
    (`documents.begin_delivery`: a batch claims only those never delivered),
    one reads the candidates of all of them, without locks, and one records
    them all: the decisions are completed while holding locks on the
    documents' fingerprint keys, after weighing the documents recorded since
    the lookup (by other workers, or earlier in the batch), so related
    documents processed at once end in one story.

    With an `embedder`, the documents are embedded together; candidates
    then also come from the nearest stored vectors (`storage.vectors`).
    Facts are weighed by their document frequency of the last days
    (`storage.facts`), as read at the lookup.
    """
    with session_scope(factory) as session:
        delivery = documents.begin_delivery(
            session, document_ids, max_deliveries, timedelta(seconds=lease_seconds)
        )
    claimed = [i for i in document_ids if i in delivery.raw]
    analyses = {i: analyze(raw_document(delivery.raw[i])) for i in claimed}
    # Markup with no text (scripts only, an HTML bomb) would otherwise join
    # every other empty document as an exact duplicate.
    empty = [i for i, analysis in analyses.items() if not analysis.normalized.text.strip()]
    pending = [
        _Pending(i, analysis, delivery.received_at[i])
        for i, analysis in analyses.items()
        if i not in empty
    ]
    # A page without an article is matched with nothing: it joins no story,
    # and walls of one site form none together.
    articles = [item for item in pending if item.analysis.quality.is_article]
    if embedder is not None and articles:
        _embed(embedder, articles)
    started = time.perf_counter()
    today = utcnow().date()
    # Look candidates up before taking any lock: the lookup is most of the
    # matching work, and on SQLite a write transaction excludes every other.
    with read_scope(factory) as session:
        horizon = feed.head(session)
        for item in articles:
            item.lookup = index.find_candidates(
                session, item.analysis.fingerprint, exclude_id=item.document_id
            )
        # One read for the batch; each document gets its own copy (it caches weights).
        counted = facts.frequencies(
            session,
            [key for item in articles for key in _fact_keys(item.analysis.fingerprint)],
            today,
        )
        for item in articles:
            item.frequencies = Frequencies(counted.counts, counted.total)
        if embedder is not None:
            _add_neighbours(session, embedder.name, articles)
    for item in articles:
        item.assessments = _assess(item, item.lookup.candidates)
    lookup_share = (time.perf_counter() - started) / max(1, len(pending))
    for item in pending:
        item.seconds["deduplicate"] = lookup_share
    with session_scope(factory) as session:
        for document_id in empty:
            documents.mark_failed(session, document_id, documents.NO_TEXT_ERROR)
        recorded = _record_all(session, pending, horizon, embedder, today)
        # After the feed appends, under their lock: ordered with a deliverer
        # releasing its lease (`services.webhooks.deliver`).
        behind = webhooks.due(session, utcnow()) if recorded else []
    committed = utcnow()
    outcomes = {i: Outcome(NO_TEXT, analyses[i].seconds) for i in empty}
    for item in pending:
        if item.result is None:
            outcomes[item.document_id] = Outcome(SKIPPED, item.seconds)
        else:
            fed = max((committed - item.received_at).total_seconds(), 0.0)
            site = None
            if item.result == NO_ARTICLE:
                raw = delivery.raw[item.document_id]
                site = site_label(_text(raw.get("url")), item.analysis.normalized.source)
            outcomes[item.document_id] = Outcome(item.result, item.seconds, fed, site)
    return Processed(
        {i: outcomes[i] for i in claimed}, alone=delivery.alone, webhooks=tuple(behind)
    )


@dataclass
class _Pending:
    """A claimed document on its way through matching and recording."""

    document_id: str
    analysis: Analysis
    received_at: datetime
    lookup: index.Lookup = field(default_factory=lambda: index.Lookup([]))
    assessments: list[Assessment] = field(default_factory=list)
    vector: np.ndarray | None = None
    frequencies: Frequencies = NO_FREQUENCIES
    result: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    tags: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seconds = dict(self.analysis.seconds)
        self.tags = [tag.to_json() for tag in self.analysis.tags]


def _embed(embedder: Embedder, pending: list[_Pending]) -> None:
    """Embed the documents together; each is charged an equal share of the time."""
    started = time.perf_counter()
    texts = [
        embedding_text(item.analysis.normalized.title, item.analysis.normalized.text)
        for item in pending
    ]
    for item, vector in zip(pending, embedder.embed(texts), strict=True):
        item.vector = vector
    share = (time.perf_counter() - started) / len(pending)
    for item in pending:
        item.seconds["embed"] = share


def _add_neighbours(session: Session, model: str, pending: list[_Pending]) -> None:
    """Add the nearest stored documents to each lookup's candidates; give all their vectors."""
    embedded = [item for item in pending if item.vector is not None]
    if not embedded:
        return
    queries = np.vstack([item.vector for item in embedded if item.vector is not None])
    languages = [item.analysis.language.code for item in embedded]
    found = vectors.nearest(session, model, queries, languages)
    for item, neighbours in zip(embedded, found, strict=True):
        known = {c.document_id for c in item.lookup.candidates}
        extra = [i for i, _ in neighbours if i not in known and i != item.document_id]
        candidates = item.lookup.candidates + index.read_candidates(session, extra)
        item.lookup = index.Lookup(
            _with_vectors(session, model, candidates), item.lookup.least_shared
        )


def _with_vectors(session: Session, model: str, candidates: list[Candidate]) -> list[Candidate]:
    found = vectors.read(session, model, [c.document_id for c in candidates])
    return [dataclasses.replace(c, vector=found.get(c.document_id)) for c in candidates]


def _record_all(
    session: Session,
    pending: list[_Pending],
    horizon: int,
    embedder: Embedder | None,
    today: date,
) -> list[_Pending]:
    """Complete each decision and record it; return the documents recorded.

    The feed entries go in last, together, holding the feed lock only for
    the end of the transaction.
    """
    started = time.perf_counter()
    fingerprints = [
        item.analysis.fingerprint for item in pending if item.analysis.quality.is_article
    ]
    # Documents that could match each other share a key or the content
    # hash: locking those serializes exactly the pairs that could race.
    lock_keys(session, [key for f in fingerprints for key in (f.content_hash, *f.keys)])
    waiting = documents.unprocessed(session, [item.document_id for item in pending])
    # Entries commit in feed order, so what the lookup missed was recorded
    # after its horizon, by other workers, or earlier in this batch. Read
    # once under the locks: a document sharing a key with this batch that
    # another worker records from now on waits for this commit.
    since = index.recorded_since(session, horizon)
    if embedder is not None and since:
        read = _with_vectors(session, embedder.name, [c for c, _ in since])
        since = [(c, keys) for c, (_, keys) in zip(read, since, strict=True)]
    recorded: list[_Pending] = []
    entries: list[feed.NewEntry] = []
    batch: list[Candidate] = []
    links: list[stories.NewLink] = []
    timed = 0.0  # spent on the documents themselves
    for item in pending:
        if item.document_id not in waiting:
            continue
        item_started = time.perf_counter()
        if not item.analysis.quality.is_article:
            entries.append(_record(session, item, None))
            item.result = NO_ARTICLE
            item.seconds["store"] = time.perf_counter() - item_started
            timed += time.perf_counter() - item_started
            recorded.append(item)
            continue
        fingerprint = item.analysis.fingerprint
        _weigh_late(item, batch, since)
        match = conclude(item.assessments)
        analysis = item.analysis
        story_id = match.story_id if match is not None else None
        weighed_candidates = [assessment.candidate for assessment in item.assessments]
        found = find_related(
            fingerprint,
            analysis.normalized.published_at,
            weighed_candidates,
            story_id=story_id,
            cosines=cosines(item.vector, weighed_candidates),
            frequencies=item.frequencies,
        )
        decided = time.perf_counter()
        entry = _record(session, item, match)
        entries.append(entry)
        links += [
            stories.NewLink(
                entry.story_id, item.document_id, r.story_id, r.document_id, r.score, r.evidence
            )
            for r in found
        ]
        batch.append(
            Candidate(
                item.document_id,
                entry.story_id,
                analysis.language.code,
                analysis.normalized.published_at,
                fingerprint,
                item.vector,
            )
        )
        item.result = NEW_STORY if match is None else match.relation
        item.seconds["deduplicate"] += decided - item_started
        item.seconds["store"] = time.perf_counter() - decided
        timed += time.perf_counter() - item_started
        recorded.append(item)
    # Rows of every kind go in together, the feed's last.
    index.add(session, batch)
    stories.link_related(session, links)
    if embedder is not None:
        vectors.add(
            session,
            embedder.name,
            {c.document_id: c.vector for c in batch if c.vector is not None},
        )
    facts.count(session, [_fact_keys(c.fingerprint) for c in batch], today)
    documents.add_tags(session, {item.document_id: item.tags for item in recorded})
    feed.append(session, entries)
    # The transaction's own statements (locks, checks, the feed) are shared
    # out as storage; the commit is not timed.
    own = time.perf_counter() - started - timed
    for item in recorded:
        item.seconds["store"] += own / len(recorded)
    return recorded


def _weigh_late(
    item: _Pending, batch: list[Candidate], since: list[tuple[Candidate, frozenset[str]]]
) -> None:
    """Weigh the documents recorded since the lookup, as if found by it.

    Those of the batch and of other workers (`since`, with their keys) that
    would have been among its candidates: the same content hash or enough
    shared keys (`index.Lookup.least_shared`), or, for the batch, a close
    vector.
    """
    fingerprint = item.analysis.fingerprint
    least = item.lookup.least_shared
    late = [
        c
        for c in batch
        if would_be_found(c.fingerprint, frozenset(c.fingerprint.keys), fingerprint, least)
        or _near(c.vector, item.vector)
    ]
    late += [c for c, keys in since if would_be_found(c.fingerprint, keys, fingerprint, least)]
    weighed = {candidate.document_id for candidate in item.lookup.candidates}
    item.assessments += _assess(item, [c for c in late if c.document_id not in weighed])


def _fact_keys(fingerprint: Fingerprint) -> list[str]:
    return fact_keys(fingerprint.data.get("ev") or {})


def would_be_found(
    stored: Fingerprint, stored_keys: AbstractSet[str], new: Fingerprint, least_shared: int
) -> bool:
    """Return whether a lookup for `new` would have found `stored` (`stored_keys`: its keys).

    `least_shared`: the keys the lookup's last candidate shares (`index.Lookup`).
    """
    shared = sum(key in stored_keys for key in new.keys)
    return stored.content_hash == new.content_hash or shared >= least_shared


def _near(stored: np.ndarray | None, new: np.ndarray | None) -> bool:
    # What the vector search would likely have returned, in memory: the
    # cosine of true pairs goes down to about 0.78.
    return stored is not None and new is not None and float(stored @ new) >= BATCH_NEIGHBOUR_COSINE


def cosines(vector: np.ndarray | None, candidates: Sequence[Candidate]) -> dict[str, float] | None:
    """Return the embedding cosine of each candidate with a vector (None without one)."""
    if vector is None:
        return None
    return {c.document_id: float(vector @ c.vector) for c in candidates if c.vector is not None}


def _assess(item: _Pending, candidates: list[Candidate]) -> list[Assessment]:
    analysis = item.analysis
    return assess(
        analysis.fingerprint,
        analysis.language.code,
        analysis.normalized.published_at,
        candidates,
        context=Context(item.vector, item.frequencies),
    )


def _record(session: Session, item: _Pending, match: Match | None) -> feed.NewEntry:
    """Record the document and its place in a story; return its feed entry."""
    analysis, document_id = item.analysis, item.document_id
    normalized = analysis.normalized
    if match is None:
        story = stories.start(session, document_id)
        link, story_update = documents.Link(), True
    else:
        story_update = match.relation == TRANSLATION
        story = stories.join(session, match.story_id, new_revision=story_update)
        link = documents.Link(match.relation, match.score, match.evidence)
        link = _keep_first_arrival_canonical(session, story, document_id, item.received_at, link)
    found = {
        # Shown in every API answer and feed item: plain text, never markup.
        "title": plain_text(normalized.title),
        "byline": plain_text(normalized.byline),
        "published_at": normalized.published_at,
        "language": analysis.language.code,
        "language_confidence": analysis.language.confidence,
        "text": normalized.text,
        "content_hash": analysis.fingerprint.content_hash,
        "tags": item.tags,
        "story_id": story.id,
        "quality": analysis.quality.value,
        "quality_reason": analysis.quality.reason,
    }
    documents.record(session, document_id, found, link, source=normalized.source)
    return feed.NewEntry(document_id, story.id, story.revision, story_update)


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
    """Tag and fingerprint a processed document again with the current tables.

    Reads the stored normalized text, never the raw input, and changes only
    the tags, the match keys and the fingerprint (after a taxonomy, gazetteer
    or `fingerprint.DATA_VERSION` change); the document keeps its story.
    Idempotent. Returns False when the document is not processed.
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
        language = document.language or "und"
        tags = tag(normalized, language)
        documents.replace_tags(session, document, [t.to_json() for t in tags])
        index.rekey(session, document_id, fingerprinting.fingerprint(normalized, language, tags))
    return True
