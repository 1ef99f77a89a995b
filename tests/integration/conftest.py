"""Integration fixtures: the Flask app, a client, a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from services.app import create_app
from services.config import Config
from services.queue import create_celery
from services.storage.db import make_engine, make_sessionmaker
from services.storage.models import (
    PROCESSING,
    QUEUED,
    Document,
    DocumentTag,
    FeedEntry,
    MatchKey,
    Story,
)
from tests.helpers import wait_for
from workers.tasks import PipelineTask

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sessions(config: Config) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(config.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _busy(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        query = select(func.count()).where(Document.status.in_((QUEUED, PROCESSING)))
        return int(session.scalar(query) or 0)


def _empty(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for table in (FeedEntry, DocumentTag, MatchKey, Document, Story):
            session.execute(delete(table))


@pytest.fixture(autouse=True)
def _empty_tables(sessions: sessionmaker[Session], worker: object) -> Iterator[None]:
    """Run every test on empty tables; after it, let the worker finish, then empty them."""
    _empty(sessions)
    yield
    wait_for(lambda: _busy(sessions) == 0, timeout=60)
    _empty(sessions)


class KeyClient(FlaskClient):
    """A test client that sends an API key on every request, as a real client would."""

    token = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"


def key_client_class(token: str) -> type[FlaskClient]:
    """Return a test client class that sends this API key."""
    return type("TestsKeyClient", (KeyClient,), {"token": token})


@pytest.fixture(scope="session")
def app(config: Config, api_token: str) -> Iterator[Flask]:
    """Return the app; its test clients send a real key with every scope from the database."""
    app = create_app(config)
    app.test_client_class = key_client_class(api_token)
    yield app
    app.extensions["ingest"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def celery_app(config: Config) -> Celery:
    return create_celery(config)


@pytest.fixture(scope="session")
def worker(celery_app: Celery) -> Iterator[object]:
    """A real Celery worker consuming from the test Redis, in threads."""
    with start_worker(
        celery_app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30
    ) as running:
        yield running
    PipelineTask.dispose()


@contextmanager
def worker_process(config: Config, log_path: Path, concurrency: int = 2) -> Iterator[None]:
    """Run a real Celery worker as a separate prefork process on the config's broker and store.

    Unlike `start_worker`, it shares no Celery state with the test process,
    so it can come and go while the session's worker keeps running.
    """
    env = {**os.environ, **config.to_env(), "LOG_LEVEL": "WARNING"}
    command = [
        sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "WARNING",
        "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            yield
        finally:
            process.terminate()
            process.wait(30)
