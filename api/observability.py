"""The gateway's logs and traces: logging configured once at start, a per-request log context (its job
ID, its start for the access line's duration), and FastAPI's OpenTelemetry instrumentation when traces
are on (`recast.infra.tracing`).

The access log is uvicorn's own, formatted like every other line (`recast.infra.logs`): one line per
request with method, path (tokens redacted), status, duration and — for a job's routes — its job ID.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from recast.infra import logs, tracing
from recast.infra.config import Settings

_JOB_IN_PATH = re.compile(r"^/v1/jobs/(job_[A-Za-z0-9_-]+)")
# URL attributes of a request span, old and stable semantic conventions: a download token sits in the
# path (/v1/files/{token}), an upload token in the query.
_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.query", "url.full")


def install(app: FastAPI, settings: Settings) -> None:
    logs.configure_from("api", settings)
    app.add_middleware(_RequestContext)
    if tracing.setup("api"):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            server_request_hook=_redact_span_urls,
            # One span per request; not one more for every chunk received or sent.
            exclude_spans=["receive", "send"],
            excluded_urls="/healthz",
        )


def bind_job(job_id: str) -> None:
    """This request concerns `job_id`: its log lines say so, and so does its span."""
    logs.bind(job_id=job_id)
    tracing.tag(job_id=job_id)


class _RequestContext:
    """Open a log context per request (pure ASGI: uvicorn's access line is written inside it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields: dict[str, Any] = {"started": time.perf_counter()}
        if match := _JOB_IN_PATH.match(scope.get("path", "")):
            fields["job_id"] = match.group(1)
        with logs.context(**fields):
            await self.app(scope, receive, send)


def _redact_span_urls(span: Any, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    for name in _URL_ATTRIBUTES:
        value = span.attributes.get(name) if span.attributes else None
        if isinstance(value, str):
            # A bare query (url.query) has no "?" to tell it is one.
            span.set_attribute(
                name, logs.redact("?" + value)[1:] if name == "url.query" else logs.redact(value)
            )
    if match := _JOB_IN_PATH.match(scope.get("path", "")):
        span.set_attribute(tracing.ATTRIBUTES["job_id"], match.group(1))
