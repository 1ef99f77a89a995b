"""The benchmark's targets, its table and the machine it ran on."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
TOP_SIZE = 100_000


@dataclass(frozen=True)
class Target:
    name: str
    unit: str
    goal: str
    passes: Callable[[float], bool]


TARGETS = {
    "e2e_ratio": Target("end to end / in-process limit", "", ">= 0.85", lambda v: v >= 0.85),
    "worker_overhead": Target("worker's own CPU per document", "ms", "<= 3", lambda v: v <= 3),
    "limit_per_core": Target(
        "in-process limit, embeddings counted", "docs/s/core", ">= 25", lambda v: v >= 25
    ),
    "embed": Target("embed median per document", "ms", "<= 30", lambda v: v <= 30),
    "intake_batch": Target("intake, batches of 500", "docs/s", ">= 3000", lambda v: v >= 3000),
    "intake_single": Target("intake, single POSTs", "docs/s", ">= 300", lambda v: v >= 300),
    "latency_p95": Target("p95 POST->feed at half load", "ms", "< 500", lambda v: v < 500),
    "dedup_growth": Target("dedup ms/doc, top/bottom size", "x", "<= 1.3", lambda v: v <= 1.3),
    "worker_rss": Target("largest worker process RSS", "MB", "<= 500", lambda v: v <= 500),
    "api_rss": Target("largest API process RSS", "MB", "<= 200", lambda v: v <= 200),
    "normalize_language": Target(
        "normalize+language median per 5 KB", "ms", "<= 5", lambda v: v <= 5
    ),
    "tag": Target("tag median", "ms", "<= 10", lambda v: v <= 10),
    "dedup_top": Target("dedup median at top size", "ms", "< 10", lambda v: v < 10),
    "feed_top": Target("feed page median at top size", "ms", "< 30", lambda v: v < 30),
    "fault_lost": Target("faults: documents lost, all faults", "docs", "= 0", lambda v: v == 0),
    "fault_double": Target("faults: double effects, all faults", "", "= 0", lambda v: v == 0),
    "fault_recovery": Target(
        "faults: recovery after a fault ends, worst", "s", "<= 60", lambda v: v <= 60
    ),
}


def machine(database_url: str) -> dict[str, Any]:
    """Describe the machine and the database kind."""
    return {
        "cores": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database_url.split(":", 1)[0].split("+", 1)[0],
    }


def commit() -> str | None:
    """Return the checked-out commit, or None outside a git work tree."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip() or None


def judge(values: dict[str, float | None], notes: dict[str, str]) -> list[dict[str, Any]]:
    """Compare each measured value with its target."""
    judged = []
    for key, target in TARGETS.items():
        value = values.get(key)
        measured = value is not None and not math.isnan(value)
        judged.append(
            {
                "key": key,
                "name": target.name,
                "value": value,
                "unit": target.unit,
                "target": target.goal,
                "pass": bool(measured and target.passes(value)) if measured else None,
                "note": notes.get(key, ""),
            }
        )
    return judged


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    limit, e2e, lat = results["limit"], results["end_to_end"], results["latency"]
    intake = results["intake"]
    rows = [
        ("limit, docs/s per core (in-process)", _number(limit["per_core_docs_per_s"])),
        (
            f"limit, docs/s on {limit['processes']} processes (mean; before / after end to end)",
            f"{_number(limit['total_docs_per_s'])}; "
            f"{_number(limit['total_before_docs_per_s'])} / "
            f"{_number(limit['total_after_docs_per_s'])}",
        ),
        (
            f"end to end, docs/s (10-90% of arrivals; {e2e['worker_processes']} worker processes)",
            _number(e2e["steady_docs_per_s"]),
        ),
        ("end to end, docs/s (all, incl. ramp)", _number(e2e["docs_per_s"])),
        ("end to end / limit", _number(e2e["ratio_to_limit"])),
        (
            f"limit, CPU ms per document (in-process, on {limit['processes']} processes; "
            "mean; before / after)",
            f"{_number(limit['cpu_ms_per_doc'])}; "
            f"{_number(limit['cpu_before_ms_per_doc'])} / "
            f"{_number(limit['cpu_after_ms_per_doc'])}",
        ),
        (
            "end to end, CPU ms per document: " + " / ".join(e2e["cpu_seconds"]),
            " / ".join(
                _number(1000 * seconds / e2e["documents"])
                for seconds in e2e["cpu_seconds"].values()
            ),
        ),
        (
            f"latency at {lat['offered_docs_per_s']:.1f} docs/s, p50/p95/p99 ms",
            " / ".join(_number(lat[k]) for k in ("p50_ms", "p95_ms", "p99_ms")),
        ),
        (
            f"intake, batches of 500 ({intake['batch']['threads']} clients), docs/s",
            _number(intake["batch"]["docs_per_s"]),
        ),
        (
            f"intake, single POSTs ({intake['single']['threads']} threads), docs/s",
            _number(intake["single"]["docs_per_s"]),
        ),
    ]
    for stage, summary in results["stages"].items():
        rows.append(
            (
                f"stage {stage}, median / p95 ms",
                f"{_number(summary['median_ms'])} / {_number(summary['p95_ms'])}",
            )
        )
    for point in results["scale"]:
        rows.append(
            (
                f"at {point['size']:,} stored: dedup / store / feed page, median ms",
                " / ".join(
                    _number(point[k])
                    for k in ("dedup_ms_median", "store_ms_median", "feed_page_ms_median")
                ),
            )
        )
    for point in results["scale"]:
        rows.append(
            (
                f"at {point['size']:,} stored: repeats joined to their story",
                f"{point['repeats_joined']} of {point['repeats']}",
            )
        )
    for fault, figures in (results.get("faults") or {}).items():
        if not isinstance(figures, dict) or "accepted" not in figures:
            continue
        rows.append(
            (
                f"fault {fault}: accepted / processed once / lost / double effects",
                " / ".join(
                    _number(figures[k])
                    for k in ("accepted", "processed_once", "lost", "double_effects")
                ),
            )
        )
        rows.append(
            (
                f"fault {fault}: intake errors during it (of requests); recovery s (after end)",
                f"{figures['intake_errors_during_fault']} "
                f"(of {figures['requests_during_fault']}); "
                f"{_number(figures['recovery_seconds'])} "
                f"({_number(figures['recovery_after_fault_end_seconds'])})",
            )
        )
        rows.append((f"fault {fault}: memory growth MB", _number(figures["memory_growth_mb"])))
    for name, entry in results["memory"].items():
        children = ", ".join(_number(c["mb"]) for c in entry["children_mb"])
        rows.append((f"peak RSS MB, {name} (main; children)", f"{entry['main_mb']}; {children}"))
    return rows


def table(results: dict[str, Any]) -> str:
    """Render the figures and the targets as a plain-text table."""
    rows = _rows(results)
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines.append("")
    for target in results["targets"]:
        verdict = {True: "pass", False: "MISS", None: "n/a"}[target["pass"]]
        value = _number(target["value"])
        note = f"  ({target['note']})" if target["note"] else ""
        lines.append(
            f"{verdict:<4}  {target['name']:<40} {value:>9} {target['unit']:<6} "
            f"target {target['target']}{note}"
        )
    return "\n".join(lines)
