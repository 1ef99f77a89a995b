"""The monitoring files: the dashboard against its schema version, the rules against the runbook.

What the queries and expressions return is proven against a real
Prometheus in tests/e2e/test_prometheus.py.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "ingest.json"
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

# The dashboard schema version each Grafana release writes (and reads
# without migrating). Add a row when the compose file moves to a release.
SCHEMA_VERSIONS = {"11.1": 39}
GRID_COLUMNS = 24

# The dashboard model of schema version 39, as far as this dashboard uses it:
# what Grafana requires of a dashboard, a panel, its grid position and its
# Prometheus queries. The layout of schema versions below 16 (`rows`) and the
# Angular `graph` panel, which Grafana 11 no longer draws, are refused.
PANEL_TYPES = ["stat", "timeseries", "gauge", "bargauge", "table", "text", "row", "heatmap"]
DATASOURCE_REF = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}},
}
SCHEMA_39 = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "time", "templating"],
    "not": {"required": ["rows"]},
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"const": 39},
        "editable": {"type": "boolean"},
        "refresh": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array"}},
        },
        "annotations": {"type": "object", "properties": {"list": {"type": "array"}}},
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": PANEL_TYPES},
                    "title": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "datasource": DATASOURCE_REF,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "additionalProperties": False,
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": GRID_COLUMNS},
                            "x": {"type": "integer", "minimum": 0, "maximum": GRID_COLUMNS - 1},
                            "y": {"type": "integer", "minimum": 0},
                        },
                    },
                    "targets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr"],
                            "properties": {
                                "refId": {"type": "string", "pattern": "^[A-Z]$"},
                                "expr": {"type": "string", "minLength": 1},
                                "legendFormat": {"type": "string"},
                                "datasource": DATASOURCE_REF,
                            },
                        },
                    },
                    "fieldConfig": {
                        "type": "object",
                        "required": ["defaults", "overrides"],
                        "properties": {
                            "defaults": {"type": "object"},
                            "overrides": {"type": "array"},
                        },
                    },
                    "options": {"type": "object"},
                },
            },
        },
    },
}


def _dashboard() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return found


def _rules() -> list[dict[str, Any]]:
    """Return the alerting rules (not the recording ones)."""
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_dashboard_declares_the_schema_version_of_the_grafana_it_ships_with() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    image = compose["services"]["grafana"]["image"]
    release = re.fullmatch(r"grafana/grafana:(\d+\.\d+)\.\d+", image)
    assert release is not None, image
    assert _dashboard()["schemaVersion"] == SCHEMA_VERSIONS[release.group(1)]


def test_the_dashboard_fits_the_model_of_its_schema_version() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] == 39
    errors = [error.message for error in jsonschema_rs.iter_errors(SCHEMA_39, dashboard)]
    assert errors == []


def test_the_schema_refuses_what_version_39_does_not_know() -> None:
    dashboard = _dashboard()
    legacy = {**dashboard, "panels": [{**dashboard["panels"][0], "type": "graph"}]}
    assert not jsonschema_rs.is_valid(SCHEMA_39, legacy)
    assert not jsonschema_rs.is_valid(SCHEMA_39, {**dashboard, "schemaVersion": 27})
    assert not jsonschema_rs.is_valid(SCHEMA_39, {**dashboard, "rows": []})


def test_panels_have_unique_ids_fit_the_grid_and_do_not_overlap() -> None:
    panels = _dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(set(refs)) == len(refs), panel["title"]
    for one, other in combinations(panels, 2):
        a, b = one["gridPos"], other["gridPos"]
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, (one["title"], other["title"])


def test_every_query_uses_the_provisioned_data_source() -> None:
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    uids = {source["uid"] for source in provisioned if source["type"] == "prometheus"}
    for panel in _dashboard()["panels"]:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] in uids, panel["title"]


def test_prometheus_loads_the_rules_and_reads_its_targets_from_a_file() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    for pattern in job["file_sd_configs"][0]["files"]:
        assert list(MONITORING.glob(pattern)), pattern
    targets = yaml.safe_load((MONITORING / "targets" / "ingest.yml").read_text())
    assert targets == [{"targets": ["api:8000"]}]


def _anchor(heading: str) -> str:
    """Return the anchor a Markdown renderer gives a heading (GitHub's rule)."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _alert_sections() -> dict[str, str]:
    """Return the `###` sections under `## Alerts` in docs/operations.md, by anchor."""
    text = OPERATIONS.read_text()
    alerts = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"(?m)^### (.+)$", alerts)
    return {_anchor(title): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_runbook_section_and_a_severity(rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    path, _, anchor = url.partition("#")
    assert path == "docs/operations.md"
    sections = _alert_sections()
    assert anchor == _anchor(rule["alert"]) and anchor in sections, url
    assert len(sections[anchor].split()) >= 40, f"{rule['alert']}: the runbook says too little"
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"]


def test_the_worker_alert_says_which_signal_it_reads() -> None:
    section = _alert_sections()[_anchor("IngestNoWorkerAlive")]
    assert "**Signal: heartbeat.**" in section
    (rule,) = [rule for rule in _rules() if rule["alert"] == "IngestNoWorkerAlive"]
    assert "ingest_workers_alive" in rule["expr"]
