"""Alembic environment: runs migrations on the URL given by services.storage.migrate."""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from services.storage.models import Base

config = context.config


def run() -> None:
    connectable = config.attributes.get("connection") or create_engine(
        config.get_main_option("sqlalchemy.url"), poolclass=NullPool
    )
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _migrate(connection)
    else:
        _migrate(connectable)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
