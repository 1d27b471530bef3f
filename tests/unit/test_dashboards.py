"""The monitoring files — deploy/prometheus.yml, Grafana's provisioning and the Recast dashboard — checked
against docker-compose.yml and the metrics the code declares, without Docker: what Prometheus scrapes is
where the API and workers serve, Grafana's mounts hold what its provisioning names, and every metric a
panel queries is one Recast declares and docs/operations.md describes. (That the endpoints really expose
them after a job: tests/e2e/test_metrics.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.metrics import API_METRICS, ApiMetrics
from recast.core.metrics import WORKER_METRICS

ROOT = Path(__file__).resolve().parents[2]
QUERIED = re.compile(r"\b(?:recast|temporal)_[a-z0-9_]+\b")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return found


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → the repository path bind-mounted there."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("./"):
            found[target] = ROOT / source
    return found


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "deploy/grafana/dashboards/recast.json").read_text())
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p.get("type") != "row"]


def sample_names() -> set[str]:
    """Every sample name Recast's metrics can expose (a histogram's _bucket, _count and _sum)."""
    names = set()
    for metric in (*WORKER_METRICS, *API_METRICS):
        if metric.kind == "histogram":
            names |= {f"{metric.name}_bucket", f"{metric.name}_count", f"{metric.name}_sum"}
        else:
            names.add(metric.exposed)
    return names


def test_api_metrics_are_registered_as_declared() -> None:
    exposed = {family.name: family.type for family in ApiMetrics().registry.collect()}
    # prometheus_client names a counter's family without `_total` and adds it to the sample.
    assert exposed == {m.name: m.kind for m in API_METRICS}


def test_prometheus_scrapes_the_api_and_every_worker(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    config_path = next(a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config.file="))
    config = yaml.safe_load(mounts(prometheus)[config_path].read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    [api_target] = jobs["recast-api"]["static_configs"][0]["targets"]
    host, port = api_target.split(":")
    assert host == "api" and any(str(p).endswith(f":{port}") for p in services["api"]["ports"])
    assert jobs["recast-api"].get("metrics_path", "/metrics") == "/metrics"

    # Workers are scaled (`--scale worker=3`): found by the service's DNS name, each on its metrics port.
    [dns] = jobs["recast-worker"]["dns_sd_configs"]
    assert dns["names"] == ["worker"] and dns["type"] == "A"
    worker_env = services["worker"]["environment"]
    assert dns["port"] == int(worker_env["RECAST_WORKER_METRICS_PORT"]) != 0
    assert worker_env["RECAST_WORKER_METRICS_HOST"] == "0.0.0.0"  # reachable from the prometheus container
    assert str(dns["port"]) in [str(p) for p in services["worker"]["expose"]]


def test_grafana_provisions_prometheus_and_the_dashboard(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    provisioning = mounts(grafana)["/etc/grafana/provisioning"]
    [datasource] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    assert re.fullmatch(r"http://prometheus:9090/?", datasource["url"])
    assert any(str(p).endswith(":9090") for p in services["prometheus"]["ports"])

    [provider] = yaml.safe_load((provisioning / "dashboards/recast.yml").read_text())["providers"]
    folder = mounts(grafana)[provider["options"]["path"]]
    assert (folder / "recast.json").is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/recast.json"

    for panel in panels():
        for ref in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert ref == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    queried = " ".join(t["expr"] for p in panels() for t in p["targets"])
    for metric in (
        "recast_jobs_finished_total",  # jobs by status
        "recast_job_queue_wait_seconds_bucket",  # queue wait
        "recast_output_realtime_factor_bucket",  # encode realtime factor by codec
        "recast_job_failures_total",  # failures by code
        "recast_webhook_deliveries_total",  # webhook outcomes
        "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",  # Temporal task latency
    ):
        assert metric in queried, metric
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids)), "panel ids repeat"


def test_every_recast_metric_a_panel_queries_is_declared() -> None:
    declared = sample_names()
    for panel in panels():
        names = set(QUERIED.findall(" ".join(t["expr"] for t in panel["targets"])))
        assert names, panel["title"]
        unknown = {n for n in names if n.startswith("recast_")} - declared
        assert not unknown, f"{panel['title']}: {sorted(unknown)} are not Recast metrics"


def test_operations_doc_describes_every_metric_and_its_labels() -> None:
    doc = (ROOT / "docs/operations.md").read_text()
    for metric in (*WORKER_METRICS, *API_METRICS):
        name, labels = metric.exposed, metric.labels
        rows = [line for line in doc.splitlines() if line.startswith(f"| `{name}`")]
        assert rows, f"docs/operations.md has no row for {name}"
        for label in labels:
            assert f"`{label}`" in rows[0], f"docs/operations.md: {name} row does not name label {label}"
