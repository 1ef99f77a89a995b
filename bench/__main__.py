"""Benchmark the service: `python -m bench [--quick] [--scale 1000,10000,100000]`.

`--latency-rate R` offers the latency figure's single POSTs at R a second
instead of half the sustained rate (to compare settings at one load).

Runs, in order, on one generated corpus (bench/corpus.py):

1. storage at scale: `services.processing.process` on queued rows, then the
   database grown to each `--scale` size (bulk-filled from `analyze`
   results), dedup per document and the feed page timed at each
   (bench/scale.py);
2. the in-process limit: the pipeline stages plus `decide` and related
   coverage, on one core and on a pool of one process per core
   (bench/limit.py), just before
3. the real service, started with `services.supervisor.start` on a fresh
   database and Redis database number, driven over HTTP only: sustained
   rate (seen on the live feed stream, with the CPU each process used),
   latency at half that rate, intake by single POSTs and by batches, peak
   memory of every process (bench/load.py, bench/stack.py). The pool is
   measured once more right after the sustained run; the ratio of end to
   end to the limit, and the worker's own CPU per document, use the mean of
   the two.

4. with --faults (the default in full mode), the fault phase at half the
   sustained rate: a worker SIGKILLed, Redis stopped for 10 s, the database
   unavailable for 10 s, each on a stack of the phase's own (bench/faults.py).

Prints a table, each target with pass or miss, and writes the same figures
to bench/results.json (or `--output`). The database is DATABASE_URL's server
if set (a database created for the run and dropped after), else SQLite in a
temporary directory; Redis is REDIS_URL's server, else 127.0.0.1:6379, else
a private redis-server, on database number 12, flushed after.

Quick mode takes about a minute on 2 cores. Full mode takes about six
with the default `--scale` (1,000 and 10,000 stored, the fill analysing
documents at some 50 per second); `--scale 1000,10000,100000` adds about
thirty minutes for the 90,000 more.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import faults, limit, load, report, scale, stack
from bench.backends import redis_database
from bench.corpus import ORIGINAL, article, articles
from bench.stats import median, percentile
from services.config import Config
from services.pipeline.embedding import one_blas_thread
from services.storage.scratch import scratch_database
from services.supervisor import default_concurrency

RESULTS = Path(__file__).resolve().parent / "results.json"
KB5 = 5 * 1024


@dataclass(frozen=True)
class Settings:
    """How much of each figure a mode measures."""

    limit_documents: int
    single_core_documents: int
    stage_documents: int
    scale: tuple[int, ...]
    probes: int
    feed_repeats: int
    sustained_documents: int
    latency_seconds: float
    single_posts: int
    batches: int
    faults: faults.Timing | None = None


# Quick mode runs the fault phase only with --faults, with shorter outages.
QUICK = Settings(160, 60, 30, (200, 500), 20, 15, 120, 4, 60, 2, faults.Timing(3, 4, 4))
FULL = Settings(
    2000, 400, 300, (1000, 10_000), 200, 100, 1000, 30, 300, 10, faults.Timing(5, 10, 10)
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--seed", type=int, default=20240601, help="corpus seed")
    parser.add_argument(
        "--scale",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        help="stored-document sizes, comma-separated (full default 1000,10000)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="worker pool processes (default: as `make run`, one per core)",
    )
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument(
        "--faults",
        action=argparse.BooleanOptionalAction,
        help="the fault phase: a worker killed, Redis and the database down"
        " (default: on in full mode, off in quick mode)",
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        help="single POSTs a second for the latency figure (default: half the sustained"
        " rate; another rate leaves the latency target unjudged)",
    )
    return parser.parse_args(argv)


def _stage_summary(seconds: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        stage: {
            "median_ms": median([s * 1000 for s in values]),
            "p95_ms": percentile([s * 1000 for s in values], 95),
            "documents": len(values),
        }
        for stage, values in seconds.items()
    }


def _per_5kb(seconds: dict[str, list[float]], payloads: list[dict[str, Any]]) -> float:
    sizes = [len(p["content"].encode()) for p in payloads]
    pairs = zip(seconds["normalize"], seconds["language"], sizes, strict=False)
    return median([(n + lang) * 1000 * KB5 / size for n, lang, size in pairs])


def _with_ids(payloads: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [{**p, "external_id": f"{p['external_id']}-{tag}"} for p in payloads]


def _service(
    settings: Settings,
    args: argparse.Namespace,
    tmp: Path,
    limit_again: Callable[[], tuple[float, float]],
) -> dict[str, Any]:
    """Start the service, drive it over HTTP, stop it; return its figures.

    `limit_again` measures the in-process limit once more, right after the
    sustained run, with the service idle: documents/s and CPU ms a document.
    """
    count = settings.sustained_documents
    payloads = [article(args.seed, i).payload for i in range(count)]
    intake_pool = payloads[: max(settings.single_posts, 500)]
    base = os.environ.get("DATABASE_URL")
    with (
        scratch_database(base, tmp, "bench_service") as url,
        redis_database(os.environ.get("REDIS_URL"), tmp) as redis_url,
    ):
        environ = {
            **os.environ,
            **stack.SERVICE_ENVIRONMENT,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
        }
        concurrency = args.concurrency or default_concurrency()
        with (
            stack.running(
                environ,
                concurrency=concurrency,
                api_workers=args.api_workers,
                log_path=tmp / "stack.log",
            ) as service,
            load.FeedWatcher(service.url) as watcher,
        ):
            warm = _with_ids(payloads[:10], "warm")
            load.sustained(service.url, watcher, warm, timeout=60)
            before = service.memory.cpu_seconds()
            e2e = load.sustained(service.url, watcher, payloads, timeout=600)
            after = service.memory.cpu_seconds()
            e2e["cpu_seconds"] = {name: after[name] - before.get(name, 0.0) for name in after}
            e2e["limit_after"] = limit_again()
            e2e["worker_processes"] = concurrency
            rate = args.latency_rate or max(1.0, e2e["steady_docs_per_s"] / 2)
            fresh = range(count, count + max(10, round(rate * settings.latency_seconds)))
            lat_payloads = [article(args.seed, i).payload for i in fresh]
            latency = load.latency(service.url, watcher, lat_payloads, rate, timeout=300)
            latency["half_load"] = args.latency_rate is None
            single = load.intake_single(
                service.url, _with_ids(intake_pool[: settings.single_posts], "one"), threads=4
            )
            batches = [_with_ids(intake_pool[:500], f"b{n}") for n in range(settings.batches)]
            batch = load.intake_batches(service.url, batches, threads=args.api_workers)
        memory = service.memory.summary()
    return {
        "end_to_end": e2e,
        "latency": latency,
        "intake": {"single": single, "batch": batch},
        "memory": memory,
        "database_url_kind": url.split(":", 1)[0],
    }


def _faults(
    timing: faults.Timing, args: argparse.Namespace, tmp: Path, e2e: dict[str, Any]
) -> dict[str, Any]:
    """Run the fault phase at half the sustained rate on a fresh database and Redis."""
    rate = max(1.0, e2e["steady_docs_per_s"] / 2)
    with scratch_database(os.environ.get("DATABASE_URL"), tmp, "faults") as url:
        environ = {**os.environ, **stack.SERVICE_ENVIRONMENT}
        return faults.run(
            environ,
            faults.Load(rate, timing, seed=args.seed, first_document=1_000_000),
            database_url=url,
            directory=tmp,
            concurrency=args.concurrency or default_concurrency(),
            api_workers=args.api_workers,
        )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every figure; return the results document."""
    settings = QUICK if args.quick else FULL
    sizes = list(args.scale or settings.scale)
    cores = os.cpu_count() or 1
    started = time.monotonic()
    corpus = list(articles(args.seed, settings.limit_documents))
    payloads = [a.payload for a in corpus]
    kinds = [a.kind for a in corpus]
    base = os.environ.get("DATABASE_URL")
    one_blas_thread()  # The storage figures run a worker's path here, configured as one.
    with tempfile.TemporaryDirectory(prefix="bench-") as directory, limit.start_pool(cores) as pool:
        tmp = Path(directory)
        with scratch_database(base, tmp, "bench_scale") as scale_url:
            # The in-process app never sends a task, so the broker is not contacted.
            config = Config.from_env(
                {**stack.SERVICE_ENVIRONMENT, "DATABASE_URL": scale_url, "LOG_LEVEL": "WARNING"}
            )
            factory = scale.sessions_for(scale_url)
            stored = scale.process_queued(factory, payloads[: settings.stage_documents])
            factory.kw["bind"].dispose()
            plan = scale.Plan(
                seed=args.seed,
                start=settings.stage_documents,
                sizes=sizes,
                probes=settings.probes,
                feed_repeats=settings.feed_repeats,
            )
            points = scale.measure(scale_url, config, plan, pool=pool)
        phases = {"scale": time.monotonic() - started}
        # Right before and right after the sustained run: the ratio compares
        # it with the mean of the two, on a machine whose speed drifts.
        measured = limit.measure(payloads, settings.single_core_documents, pool, cores)
        stage_seconds = measured.pop("stage_seconds")
        phases["limit"] = time.monotonic() - started - sum(phases.values())
        service = _service(settings, args, tmp, lambda: _pool_figures(payloads, pool, cores))
        phases["service"] = time.monotonic() - started - sum(phases.values())
        fault_figures = None
        if settings.faults is not None and (
            args.faults or (args.faults is None and not args.quick)
        ):
            fault_figures = _faults(settings.faults, args, tmp, service["end_to_end"])
            phases["faults"] = time.monotonic() - started - sum(phases.values())
    e2e = service["end_to_end"]
    # The pool's figures are the mean of its runs before and after.
    after_docs_per_s, after_cpu_ms = e2e.pop("limit_after")
    measured["total_before_docs_per_s"] = measured["total_docs_per_s"]
    measured["total_after_docs_per_s"] = after_docs_per_s
    measured["total_docs_per_s"] = (measured["total_docs_per_s"] + after_docs_per_s) / 2
    measured["cpu_before_ms_per_doc"] = measured["cpu_ms_per_doc"]
    measured["cpu_after_ms_per_doc"] = after_cpu_ms
    measured["cpu_ms_per_doc"] = (measured["cpu_ms_per_doc"] + after_cpu_ms) / 2
    e2e["ratio_to_limit"] = e2e["steady_docs_per_s"] / measured["total_docs_per_s"]
    for stage in ("deduplicate", "store"):
        stage_seconds[stage] = stored.get(stage, [])
    stage_seconds.pop(limit.DEDUP, None)
    stages = _stage_summary(stage_seconds)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python -m bench", *args.argv]),
        "commit": report.commit(),
        "machine": report.machine(base or "sqlite"),
        "corpus": {
            "seed": args.seed,
            "documents": len(payloads),
            "kinds": {k: kinds.count(k) for k in sorted(set(kinds))},
            "originals": kinds.count(ORIGINAL),
            "median_bytes": median([len(p["content"].encode()) for p in payloads]),
        },
        "limit": measured,
        **{key: service[key] for key in ("end_to_end", "latency", "intake", "memory")},
        "stages": stages,
        "faults": fault_figures,
        "scale": points,
        "scale_fill": "bulk insert of analyze() results computed in a process pool; "
        "each filled document opens its own story; probes run services.processing.process",
    }
    results["targets"] = _targets(results, sizes, stage_seconds, payloads)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["phase_seconds"] = phases
    return results


def _targets(
    results: dict[str, Any],
    sizes: list[int],
    stage_seconds: dict[str, list[float]],
    payloads: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    points = results["scale"]
    worker = results["memory"].get("worker", {})
    api = results["memory"].get("api", {})
    first, last = points[0], points[-1]
    top_reached = last["size"] >= report.TOP_SIZE
    values: dict[str, float | None] = {
        "e2e_ratio": results["end_to_end"]["ratio_to_limit"],
        "worker_overhead": _worker_overhead(results),
        "limit_per_core": results["limit"]["per_core_docs_per_s"],
        "embed": median([s * 1000 for s in stage_seconds.get(limit.EMBED, [])]),
        "intake_batch": results["intake"]["batch"]["docs_per_s"],
        "intake_single": results["intake"]["single"]["docs_per_s"],
        "latency_p95": results["latency"]["p95_ms"],
        "dedup_growth": last["dedup_ms_median"] / first["dedup_ms_median"],
        "worker_rss": _largest(worker),
        "api_rss": _largest(api),
        "normalize_language": _per_5kb(stage_seconds, payloads),
        "tag": median([s * 1000 for s in stage_seconds["tag"]]),
        "dedup_top": last["dedup_ms_median"],
        "feed_top": last["feed_page_ms_median"],
    }
    ran = [f for f in (results.get("faults") or {}).values() if isinstance(f, dict) and "lost" in f]
    if ran:
        recoveries = [f["recovery_after_fault_end_seconds"] for f in ran]
        values["fault_lost"] = sum(f["lost"] for f in ran)
        values["fault_double"] = sum(f["double_effects"] for f in ran)
        values["fault_recovery"] = (
            float("nan") if None in recoveries else max(r for r in recoveries if r is not None)
        )
    top_note = f"at {last['size']:,} stored" + ("" if top_reached else "; target is at 100,000")
    notes = {
        "dedup_growth": f"{first['size']:,} -> {last['size']:,} stored",
        "dedup_top": top_note,
        "feed_top": top_note,
        "normalize_language": "scaled linearly to 5 KB from each document's size",
    }
    unjudged = set() if top_reached else {"dedup_top", "feed_top"}
    if not results["latency"]["half_load"]:
        rate = results["latency"]["target_docs_per_s"]
        notes["latency_p95"] = f"at {rate:g} docs/s from --latency-rate, not half load"
        unjudged.add("latency_p95")
    judged = report.judge(values, notes)
    for target in judged:
        if target["key"] in unjudged:
            target["pass"] = None
    return judged


def _largest(entry: dict[str, Any]) -> float:
    """Return the largest RSS in MB among a service's main process and children."""
    return max([entry.get("main_mb") or 0.0, *(c["mb"] for c in entry.get("children_mb", []))])


def _pool_figures(payloads: list[dict[str, Any]], pool: Any, cores: int) -> tuple[float, float]:
    """Return the pool's documents/s and CPU ms a document (`limit.on_pool`)."""
    docs_per_s, _, cpu_ms = limit.on_pool(payloads, pool, cores)
    return docs_per_s, cpu_ms


def _worker_overhead(results: dict[str, Any]) -> float:
    """Return the worker's CPU per document less the in-process limit's."""
    e2e = results["end_to_end"]
    worker = 1000 * e2e["cpu_seconds"]["worker"] / e2e["documents"]
    return worker - results["limit"]["cpu_ms_per_doc"]


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON; return the exit status."""
    args = parse(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    results = _clean(run(args))
    print(report.table(results))
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
