"""The metrics switches and labels that need no running stack: the worker's endpoint off with
RECAST_WORKER_METRICS_PORT=0 and refused clearly on a busy port; the API's `/metrics` off with
RECAST_API_METRICS=false, labelled by route template (never the raw path), out of the OpenAPI schema."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from recast.core.metrics import code_label
from recast.infra.config import Settings
from recast.infra.metrics import worker_runtime


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, signing_secret="s", api_key_hashes={}, **values)  # type: ignore[arg-type]


def test_worker_metrics_port_zero_serves_nothing(tmp_path: Path) -> None:
    assert worker_runtime(settings(tmp_path, worker_metrics_port=0)) is None


def test_a_busy_worker_metrics_port_names_the_variable(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit, match="RECAST_WORKER_METRICS_PORT"):
            worker_runtime(settings(tmp_path, worker_metrics_port=port))


def call(app: FastAPI, *requests: tuple[str, str]) -> list[httpx.Response]:
    """(method, path) requests, in order, to an app that has not started (no Temporal): those that need
    no job store answer without one."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://recast.test") as client:
            return [
                await client.request(method, path, json={} if method == "POST" else None)
                for method, path in requests
            ]

    return asyncio.run(run())


def samples(resp: httpx.Response) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for f in text_string_to_metric_families(resp.text)
        for s in f.samples
    ]


def test_api_metrics_label_routes_by_template(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path))
    job, unknown, submit, metrics, schema = call(
        app,
        ("GET", "/v1/jobs/job_0123456789abcdef"),
        ("GET", "/no/such/path/42"),
        ("POST", "/v1/jobs"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    )
    assert (job.status_code, unknown.status_code, submit.status_code) == (401, 404, 401)
    assert metrics.headers["content-type"].startswith("text/plain")
    requests = {
        (labels["method"], labels["route"], labels["status"]): value
        for name, labels, value in samples(metrics)
        if name == "recast_api_requests_total"
    }
    assert requests == {
        ("GET", "/v1/jobs/{job_id}", "401"): 1,
        ("GET", "unmatched", "404"): 1,
        ("POST", "/v1/jobs", "401"): 1,
    }
    rejected = [
        (labels, value) for name, labels, value in samples(metrics) if name == "recast_api_rejections_total"
    ]
    assert rejected == [({"route": "/v1/jobs", "reason": "unauthorized"}, 1.0)]
    assert "/metrics" not in schema.json()["paths"]


def test_api_metrics_off(tmp_path: Path) -> None:
    [resp] = call(create_app(settings(tmp_path, api_metrics=False)), ("GET", "/metrics"))
    assert resp.status_code == 404


def test_error_code_labels_stay_bounded() -> None:
    assert code_label("invalid-media") == "invalid-media"
    for unbounded in (None, "", "Traceback (most recent call last)", "https://x/y", "a" * 41):
        assert code_label(unbounded) == "other"
