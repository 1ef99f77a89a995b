"""Throwaway databases: a new, migrated database for one run, dropped after.

The test sessions and the benchmark each get their own, so neither touches a
database in use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.storage.migrate import upgrade


@contextmanager
def scratch_database(base_url: str | None, directory: Path, prefix: str) -> Iterator[str]:
    """Yield the URL of a new migrated database; drop it after.

    With a base URL (PostgreSQL), a database named `<prefix>_<random>` on
    that server, dropped even while it refuses connections; without one, a
    SQLite file `<prefix>.db` in `directory`.
    """
    if not base_url:
        url = f"sqlite:///{directory / f'{prefix}.db'}"
        upgrade(url)
        yield url
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
