"""With the broker down, intake still answers 202 and nothing accepted is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.app import create_app
from services.config import Config
from services.queue import SWEEP, create_celery
from services.storage.models import PROCESSED, Document
from services.supervisor import free_port, start_redis
from tests.helpers import wait_for
from tests.integration.conftest import worker_process


def test_documents_accepted_while_redis_is_down_are_processed_after(
    config: Config,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    api_token: str,
    request: pytest.FixtureRequest,
) -> None:
    down_port = free_port()
    down_config = Config.from_env(
        {}, **{**config.__dict__, "redis_url": f"redis://127.0.0.1:{down_port}/0"}
    )
    down_app = create_app(down_config)
    request.addfinalizer(down_app.extensions["ingest"].engine.dispose)
    api = down_app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
    assert api.get("/readyz").status_code == 503
    ids = [
        api.post("/v1/documents", json={"content": f"Report {i} written during the outage."}).json[
            "id"
        ]
        for i in range(3)
    ]
    batch = api.post(
        "/v1/documents/batch", json={"documents": [{"content": "Batched in the outage."}]}
    )
    ids.append(batch.json["results"][0]["id"])
    assert down_app.extensions["ingest"].sender.flush(timeout=60)
    with sessions() as session:
        rows = session.scalars(select(Document).where(Document.id.in_(ids))).all()
        assert {row.status for row in rows} == {"queued"}
        assert all(row.enqueued_at is None for row in rows)

    restarted = start_redis(tmp_path / "restarted", down_port)
    try:
        with worker_process(down_config, tmp_path / "worker.log"):
            create_celery(down_config).send_task(SWEEP)
            wait_for(lambda: _all_processed(sessions, ids), timeout=60)
    finally:
        restarted.terminate()
        restarted.wait(10)


def _all_processed(sessions: sessionmaker[Session], ids: list[str]) -> bool:
    with sessions() as session:
        statuses = session.scalars(select(Document.status).where(Document.id.in_(ids))).all()
    return len(statuses) == len(ids) and set(statuses) == {PROCESSED}
