"""Quantiles estimated from histogram buckets, as the pipeline page shows them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from services.metrics import histogram_quantiles


class _Fixed(Collector):
    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily("stage_seconds", "Test.", labels=["stage"])
        # 10 observations: 4 up to 0.1 s, 4 more up to 0.2 s, 2 more up to 1 s.
        family.add_metric(["tag"], [("0.1", 4), ("0.2", 8), ("1.0", 10), ("+Inf", 10)], 3.0)
        family.add_metric(["store"], [("0.1", 0), ("0.2", 0), ("1.0", 0), ("+Inf", 0)], 0.0)
        yield family


def test_quantiles_interpolate_inside_the_bucket() -> None:
    registry = CollectorRegistry()
    registry.register(_Fixed())
    found = histogram_quantiles(registry, "stage_seconds")
    assert found["tag"]["count"] == 10
    assert found["tag"]["p50"] == 0.125
    assert found["tag"]["p95"] == pytest.approx(0.8)
    assert found["store"] == {"count": 0, "p50": None, "p95": None}
