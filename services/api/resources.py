"""What views share: the configuration, a request-scoped session, the task client and sender."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery
from flask import Flask, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.api.sender import Sender
from services.config import Config
from services.queue import create_celery
from services.storage.db import make_engine, make_sessionmaker


@dataclass(frozen=True)
class Resources:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    celery: Celery
    redis: redis.Redis
    sender: Sender


def init_app(app: Flask, config: Config) -> None:
    """Attach the engine, session factories, Celery client, Redis client and sender to the app."""
    engine = make_engine(config.database_url)
    sessions = make_sessionmaker(engine)
    celery = create_celery(config)
    client = redis.Redis.from_url(config.redis_url, socket_connect_timeout=1, socket_timeout=2)
    app.extensions["ingest"] = Resources(
        config=config,
        engine=engine,
        sessions=sessions,
        read_sessions=make_sessionmaker(engine, read_only=True),
        celery=celery,
        redis=client,
        sender=Sender(celery, sessions, client, linger=config.enqueue_linger_milliseconds / 1000),
    )
    app.teardown_appcontext(_close_session)


def resources() -> Resources:
    """Return the current app's resources."""
    found: Resources = current_app.extensions["ingest"]
    return found


def session() -> Session:
    """Return this request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        found = resources()
        reading = request.method in ("GET", "HEAD")
        g.db_session = found.read_sessions() if reading else found.sessions()
    db_session: Session = g.db_session
    return db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
