"""Command line: `python -m services run|migrate|retag|export|keys`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from services.config import Config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def main(argv: list[str] | None = None) -> int:
    """Run one command of the service."""
    parser = argparse.ArgumentParser(prog="python -m services")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start broker, API, worker and Flower in the foreground")
    commands.add_parser("migrate", help="apply the database migrations")
    retag = commands.add_parser("retag", help="queue stored documents to be tagged and keyed again")
    retag.add_argument("--all", action="store_true", help="every document, not only outdated ones")
    from services.feeds import export

    export.add_arguments(commands.add_parser("export", help="write the feed as JSON Lines"))
    _add_keys_commands(commands.add_parser("keys", help="create, revoke and list API keys"))
    args = parser.parse_args(argv)
    if args.command == "keys":
        return _keys(args)
    if args.command == "export":
        return export.run(args, Config.from_env().database_url, sys.stdout)
    if args.command == "run":
        from services.supervisor import run

        return run()
    if args.command == "retag":
        from services.retag import queue_retagging

        count = queue_retagging(Config.from_env(), everything=args.all)
        print(f"queued {count} documents for tagging")
        return 0
    if args.command == "migrate":
        from services.storage.migrate import upgrade

        upgrade(Config.from_env().database_url)
    return 0


def _add_keys_commands(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print its token once")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument("--scopes", required=True, help="comma-separated: ingest,read,admin")
    revoke = actions.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix", help="the key's prefix, as `keys list` shows it")
    actions.add_parser("list", help="list keys (prefix, name, scopes); never tokens")


def _keys(args: argparse.Namespace) -> int:
    """Create, revoke or list API keys in the configured database."""
    from services.storage.db import make_engine, make_sessionmaker

    engine = make_engine(Config.from_env().database_url)
    try:
        return _run_keys(args, make_sessionmaker(engine))
    finally:
        engine.dispose()


def _run_keys(args: argparse.Namespace, sessions: sessionmaker[Session]) -> int:
    from services.storage import keys
    from services.storage.db import session_scope

    with session_scope(sessions) as session:
        if args.action == "create":
            try:
                scopes = keys.parse_scopes(args.scopes)
            except ValueError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            created = keys.create(session, args.name, scopes)
            print(created.token)
            print(
                f"key {created.key.prefix} ({args.name}: {' '.join(scopes)}); "
                "the token is shown only now",
                file=sys.stderr,
            )
            return 0
        if args.action == "revoke":
            if not keys.revoke(session, args.prefix):
                print(f"error: no active key {args.prefix}", file=sys.stderr)
                return 1
            print(f"revoked {args.prefix}")
            return 0
        for key in keys.list_all(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            created_on = f"{key.created_at:%Y-%m-%d}"
            print(f"{key.prefix}  {key.name}  {key.scopes}  created {created_on}  {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
