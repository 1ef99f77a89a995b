"""Re-tagging stored documents through the queue after the taxonomy changes."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from services.config import Config
from services.pipeline.fingerprint import DATA_VERSION
from services.pipeline.tag import TAXONOMY_VERSION
from services.retag import queue_retagging
from services.storage.models import Document, DocumentTag, FeedEntry, MatchKey, Signature
from tests.helpers import wait_for


def test_outdated_tags_are_replaced_without_touching_the_rest(
    client: FlaskClient,
    worker: object,
    config: Config,
    sessions: sessionmaker[Session],
    seeds_dir: Path,
) -> None:
    content = (seeds_dir / "001_ce314f0cad848777.txt").read_text()
    document_id = client.post("/v1/documents", json={"content": content}).json["id"]
    wait_for(lambda: client.get(f"/v1/documents/{document_id}").json["status"] == "processed")
    with sessions.begin() as session:
        document = session.get(Document, document_id)
        assert document is not None
        current = document.tags
        raw, text = dict(document.raw), document.text
        document.tags = [{"id": "topic:obsolete", "label": "Obsolete", "version": "0"}]
        session.add(DocumentTag(tag_id="topic:obsolete", document_id=document_id))

    assert queue_retagging(config) == 1

    def retagged() -> bool:
        with sessions() as session:
            row = session.get(Document, document_id)
            return row is not None and row.tags == current

    wait_for(retagged)
    with sessions() as session:
        row = session.get(Document, document_id)
        assert row is not None
        assert (row.raw, row.text) == (raw, text)
        assert {tag["version"] for tag in row.tags or []} == {TAXONOMY_VERSION}
        indexed = set(
            session.scalars(
                select(DocumentTag.tag_id).where(DocumentTag.document_id == document_id)
            )
        )
        assert indexed == {tag["id"] for tag in current or []}
        assert "country:KZ" in indexed
        entries = session.scalar(select(func.count()).select_from(FeedEntry))
        assert entries == 1
    assert queue_retagging(config) == 0


def test_keys_of_an_older_data_version_are_recomputed_in_place(
    client: FlaskClient,
    worker: object,
    config: Config,
    sessions: sessionmaker[Session],
    seeds_dir: Path,
) -> None:
    content = (seeds_dir / "000_a893fa683b4c574b.txt").read_text()
    document_id = client.post("/v1/documents", json={"content": content}).json["id"]
    wait_for(lambda: client.get(f"/v1/documents/{document_id}").json["status"] == "processed")

    def keys() -> set[str]:
        with sessions() as session:
            query = select(MatchKey.key).where(MatchKey.document_id == document_id)
            return set(session.scalars(query))

    current, story_id = keys(), client.get(f"/v1/documents/{document_id}").json["story_id"]
    with sessions.begin() as session:
        signature = session.get(Signature, document_id)
        assert signature is not None
        signature.fingerprint = {**signature.fingerprint, "v": DATA_VERSION - 1}
        posted = session.scalar(
            select(func.min(MatchKey.added_at)).where(MatchKey.document_id == document_id)
        )
        session.execute(delete(MatchKey).where(MatchKey.document_id == document_id))
        session.add(MatchKey(key="s:old", document_id=document_id, added_at=posted))

    assert queue_retagging(config) == 1
    wait_for(lambda: keys() == current)
    with sessions() as session:
        signature = session.get(Signature, document_id)
        assert signature is not None and signature.fingerprint["v"] == DATA_VERSION
        times = set(
            session.scalars(select(MatchKey.added_at).where(MatchKey.document_id == document_id))
        )
        assert times == {posted}
    assert client.get(f"/v1/documents/{document_id}").json["story_id"] == story_id
    assert queue_retagging(config) == 0
