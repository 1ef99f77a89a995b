"""Related documents processed at the same moment by several worker processes end in one story."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.config import Config
from services.storage.models import PROCESSED, Document
from tests.helpers import wait_for
from tests.integration.conftest import worker_process


@pytest.fixture
def worker_processes(config: Config, tmp_path: Path) -> Iterator[None]:
    """Four prefork worker processes on the test broker and database."""
    with worker_process(config, tmp_path / "worker.log", concurrency=4):
        yield


def _edited(text: str) -> str:
    paragraphs = [p for p in text.split("\n") if p.strip()]
    return "\n\n".join(["A new headline for the same report", *paragraphs[1:-1]])


def test_a_burst_of_copies_and_translations_ends_in_one_story(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    worker_processes: None,
    seeds_dir: Path,
) -> None:
    seeds = {path.name[:3]: path.read_text() for path in sorted(seeds_dir.glob("*.txt"))}
    english, arabic = seeds["000"], seeds["001"]
    burst = [english, arabic, english, arabic, _edited(english), english, arabic]
    others = [seeds["002"], seeds["003"], seeds["004"]]
    documents = [
        {"content": content, "source": f"outlet-{i}"} for i, content in enumerate(burst + others)
    ]
    response = client.post("/v1/documents/batch", json={"documents": documents})
    ids = [item["id"] for item in response.json["results"]]
    assert len(ids) == len(documents)

    def processed() -> list[Document]:
        with sessions() as session:
            rows = list(session.scalars(select(Document).where(Document.id.in_(ids))))
        return rows if all(row.status == PROCESSED for row in rows) else []

    rows = {row.id: row for row in wait_for(processed, timeout=120)}  # type: ignore[union-attr]
    related = [rows[i] for i in ids[: len(burst)]]
    assert len({row.story_id for row in related}) == 1
    assert sum(row.relation is None for row in related) == 1
    # The canonical document is the first to arrive, whichever finished first.
    assert related[0].relation is None
    relations = sorted(row.relation or "canonical" for row in related)
    assert relations.count("translation") >= 1
    assert relations.count("exact_duplicate") >= 3
    unrelated = {rows[i].story_id for i in ids[len(burst) :]}
    assert len(unrelated) == 3
    assert not unrelated & {related[0].story_id}
