"""Command line: `python -m services run|migrate|export`."""

from __future__ import annotations

import argparse
import sys

from services.config import Config


def main(argv: list[str] | None = None) -> int:
    """Run one command of the service."""
    parser = argparse.ArgumentParser(prog="python -m services")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start broker, API, worker and Flower in the foreground")
    commands.add_parser("migrate", help="apply the database migrations")
    retag = commands.add_parser("retag", help="queue stored documents for tagging again")
    retag.add_argument("--all", action="store_true", help="every document, not only outdated ones")
    from services.feeds import export

    export.add_arguments(commands.add_parser("export", help="write the feed as JSON Lines"))
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
