"""The API's Prometheus metrics at `/metrics`: requests by route template, method and status, their
latency, and job submissions accepted or rejected (by the error code answered: `rate-limited`,
`invalid-input`, `unauthorized`, …).

prometheus_client does the recording and the text format; the few lines of ASGI middleware are ours
because the labels must be the matched route's template (`/v1/jobs/{job_id}`), never the raw path, and a
rejection's reason is the `{"error": {"code"}}` the API answered. Each app has its own registry, so
apps made in one process (tests) do not collide. Off with RECAST_API_METRICS=false.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recast.core.metrics import Metric, code_label

# Where a job is submitted; a 2xx there (or a 422 from optimize: the job ran and failed) is a submission.
SUBMISSION_ROUTES = {("POST", "/v1/jobs"), ("POST", "/v1/optimize")}
_ERROR_BODY_LIMIT = 8192  # error bodies are small JSON; a larger 4xx body is not read for its code


REQUESTS = Metric(
    "recast_api_requests",
    "counter",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
REQUEST_SECONDS = Metric(
    "recast_api_request_duration_seconds",
    "histogram",
    "Seconds from a request's arrival to the end of its response (a streamed response: the whole "
    "stream), by method and route template.",
    ("method", "route"),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SUBMISSIONS = Metric(
    "recast_api_submissions",
    "counter",
    "Jobs submitted and started, by route (`/v1/jobs`, `/v1/optimize`).",
    ("route",),
)
REJECTIONS = Metric(
    "recast_api_rejections",
    "counter",
    "Submissions refused before a job started, by route and reason: the error code answered "
    "(`rate-limited`, `invalid-input`, `unauthorized`, `too-large`, …).",
    ("route", "reason"),
)
API_METRICS = (REQUESTS, REQUEST_SECONDS, SUBMISSIONS, REJECTIONS)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(REQUESTS.name, REQUESTS.help, REQUESTS.labels, registry=self.registry)
        self.latency = Histogram(
            REQUEST_SECONDS.name,
            REQUEST_SECONDS.help,
            REQUEST_SECONDS.labels,
            buckets=REQUEST_SECONDS.buckets,
            registry=self.registry,
        )
        self.submissions = Counter(
            SUBMISSIONS.name, SUBMISSIONS.help, SUBMISSIONS.labels, registry=self.registry
        )
        self.rejections = Counter(REJECTIONS.name, REJECTIONS.help, REJECTIONS.labels, registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float, code: str | None) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if (method, route) not in SUBMISSION_ROUTES:
            return
        if 200 <= status < 300 or (route == "/v1/optimize" and status == 422):
            self.submissions.labels(route).inc()
        elif 400 <= status < 500:
            self.rejections.labels(route, code_label(code)).inc()

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _route(scope: Scope) -> str:
    """The matched route's template; requests no route matched share one label (their raw paths are
    unbounded)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _error_code(body: bytes) -> str | None:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


class _Middleware:
    """Times every HTTP request and records it once its response has been sent."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        body = bytearray()
        capture = False

        async def send_and_watch(message: Message) -> None:
            nonlocal status, capture
            if message["type"] == "http.response.start":
                status = message["status"]
                capture = 400 <= status < 500 and (scope["method"], _route(scope)) in SUBMISSION_ROUTES
            elif message["type"] == "http.response.body" and capture and len(body) < _ERROR_BODY_LIMIT:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            code = _error_code(bytes(body)) if capture else None
            self.metrics.observe(scope["method"], _route(scope), status, time.perf_counter() - started, code)


def install(app: FastAPI) -> ApiMetrics:
    """Record every request and serve `/metrics` (left out of the OpenAPI schema: it is for scrapers)."""
    # No `_created` series beside every counter and histogram: Prometheus does not use them, and they
    # would double what is scraped. (A process-wide switch of prometheus_client; the API is its only user.)
    disable_created_metrics()
    metrics = ApiMetrics()
    app.add_middleware(_Middleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(_: Request) -> Any:
        return metrics.exposition()

    return metrics
