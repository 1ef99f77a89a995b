"""Engines, sessions, the locks that make concurrent writers safe, bulk inserts, long IN lists."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, Table, bindparam, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement

# Execution option naming how a SQLite transaction begins.
SQLITE_BEGIN = "sqlite_begin"

# Bytes of a SQLite database file mapped into memory per connection.
SQLITE_MMAP_BYTES = 1 << 30

# WAL pages after which a commit copies the log into the database file. A
# checkpoint copies each page once however many commits changed it, and at
# SQLite's default (1,000 pages) nearly every batch of documents ran one.
SQLITE_CHECKPOINT_PAGES = 10_000

# Key of the transaction-scoped advisory lock that orders feed appends.
FEED_LOCK = 7_301_002


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite, WAL mode and write transactions that lock up front.

    JSON columns go through orjson: decoding candidates' fingerprints was a
    fifth of a lookup with the standard library.
    """
    kwargs = {"json_serializer": _dumps, "json_deserializer": orjson.loads, **kwargs}
    if not database_url.startswith("sqlite"):
        engine = create_engine(database_url, pool_pre_ping=True, **kwargs)
        event.listen(engine, "connect", _binary_lists)
        return engine
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say when a transaction begins.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        # Reads of a large database come straight from the OS page cache,
        # not one system call per page (lookups touch pages all over the file).
        dbapi_connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN, so a read-then-write
        # transaction cannot interleave with another writer. Readers
        # (READ_ONLY) begin DEFERRED: in WAL mode they never block a writer.
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _binary_lists(dbapi_connection: Any, _record: Any) -> None:
    # Lists (the arrays of match keys, lock keys, fact counts) go in
    # PostgreSQL's binary array format: psycopg writes the text format one
    # element at a time in Python, some four times the CPU. Imported here:
    # psycopg, some 9 MB in each process, is for PostgreSQL only.
    from psycopg.types.array import ListBinaryDumper

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Return the session factory bound to the engine.

    read_only: for sessions that only read (the API's GET requests); on
    SQLite they then take no write lock.
    """
    bind = engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session; commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session for reads only; on SQLite it begins DEFERRED, taking no write lock."""
    with factory(bind=_read_only(factory.kw["bind"])) as session:
        yield session


@functools.lru_cache(maxsize=8)
def _read_only(engine: Engine) -> Engine:
    # Built once per engine: a new options engine per session cost more than
    # the read it served.
    return engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})


def lock(session: Session, key: int) -> None:
    """Hold a lock until the transaction ends.

    PostgreSQL: an advisory transaction lock. SQLite: every write transaction
    already holds the database's single write lock (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def lock_keys(session: Session, keys: Iterable[str]) -> None:
    """Hold a lock on each key until the transaction ends.

    Two transactions that share a key run one after the other; keys are
    taken in one sorted order, so two lockers cannot deadlock. PostgreSQL:
    advisory transaction locks on a 64-bit hash of each key, in one round
    trip. SQLite: the database's single write lock already serializes.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    hashes = sorted({_key_hash(key) for key in keys})
    if hashes:
        session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"
            ),
            {"keys": hashes},
        )


def insert_rows(
    session: Session,
    target: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts: bool = False,
    **same: Any,
) -> int:
    """Insert rows that all name the same columns; return how many went in.

    `same`: columns of one value for all. `skip_conflicts`: leave out each
    row that a unique constraint turns away (ON CONFLICT DO NOTHING). On
    PostgreSQL as one statement over one array a column: psycopg sends an
    executemany's rows one by one, some 90 match keys and 40 tags a
    document (docs/performance.md). Caller commits.
    """
    if not rows:
        return 0
    # A non-returning statement's count, read before its cursor closes.
    counted = {"preserve_rowcount": True}
    if session.get_bind().dialect.name == "postgresql":
        names = tuple(rows[0])
        arrays = {n: [row[n] for row in rows] for n in names}
        statement = _from_arrays(target, names, tuple(same), skip_conflicts)
        result = session.execute(statement, {**arrays, **same}, execution_options=counted)
    else:
        many = [{**row, **same} for row in rows]
        result = session.execute(_insert(target, skip_conflicts), many, execution_options=counted)
    return int(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _from_arrays(
    target: Table, names: tuple[str, ...], same: tuple[str, ...], skip_conflicts: bool
) -> postgresql.Insert:
    arrays = [bindparam(n, type_=postgresql.ARRAY(target.c[n].type)) for n in names]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived()
    values = [bindparam(n, type_=target.c[n].type) for n in same]
    statement = postgresql.insert(target).from_select([*names, *same], select(*unnested.c, *values))
    return statement.on_conflict_do_nothing() if skip_conflicts else statement


@functools.cache
def _insert(target: Table, skip_conflicts: bool) -> sqlite.Insert:
    statement = sqlite.insert(target)
    return statement.on_conflict_do_nothing() if skip_conflicts else statement


def one_of(
    session: Session, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """Return the condition `column IN values`, for any number of values.

    On PostgreSQL the values go as one array (`IN (SELECT unnest(...))`):
    as a list of some 800 parameters, a batch's fact counts cost the worker
    several times the CPU and the server three times as long
    (docs/performance.md).
    """
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
    return column.in_(select(func.unnest(array)))


def _key_hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def ping(session: Session) -> None:
    """Raise unless the database answers."""
    session.execute(text("SELECT 1"))
