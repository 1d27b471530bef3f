"""Logging for every Recast process: one line per event, readable text by default or one JSON object
per line with `RECAST_LOG_FORMAT=json`, and every line that concerns a job carrying its `job_id`,
`output_id` and activity `attempt`.

The job fields come from three places, merged here: Temporal's own loggers (`activity.logger` adds a
`temporal_activity` dict, `workflow.logger` a `temporal_workflow` dict, both naming the workflow ID,
which is the job ID), the context an activity or an API request binds (`bind`, a contextvar, so
lines of any logger — ours, the SDK's, a library's — get them), and the call's own `extra=`. That
merging is the whole formatter, so it is written here rather than taken from a JSON-logging library.

Every line is redacted on the way out (`redact`): credentials in URLs, the values of query strings
(signed URLs carry their signature there), download tokens in paths, bearer tokens, AWS access key
IDs, and the configured secrets themselves, whatever logger wrote the line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow

from recast.infra.config import Settings

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The fields a line about a job carries first, in this order; other `extra=` fields follow.
JOB_FIELDS = ("job_id", "output_id", "attempt", "activity")

_context: ContextVar[dict[str, Any] | None] = ContextVar("recast_log_context", default=None)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
# What Temporal's LoggerAdapters add; read for the job fields, never printed whole.
_TEMPORAL = {"temporal_activity", "temporal_workflow", "activity_info", "workflow_info"}
_DROPPED = _TEMPORAL | {"color_message"}  # uvicorn's message with terminal colours
_MASK = "***"
_secrets: list[str] = []
_trace_ids: Callable[[], tuple[str, str] | None] | None = None


# ---------------------------------------------------------------- context ---------------------------------


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[dict[str, Any]]:
    """Lines logged inside carry `fields` (and what `bind` adds later in the same context)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield _context.get() or {}
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context, for the rest of it (an API request learns its job ID late).
    The dict is shared with tasks started inside the context, and with the request's access line."""
    current = _context.get()
    if current is None:
        _context.set(dict(fields))
    else:
        current.update(fields)


def with_trace_ids(current_ids: Callable[[], tuple[str, str] | None]) -> None:
    """Lines written inside a span carry its `trace_id` and `span_id` (set up when traces are on)."""
    global _trace_ids
    _trace_ids = current_ids


def current() -> dict[str, Any]:
    return dict(_context.get() or {})


# ---------------------------------------------------------------- redaction -------------------------------

_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")
_PARAM = re.compile(r"([?&][^\s=&'\"#]+=)[^\s&'\"#]*")
_FILES_TOKEN = re.compile(r"(/v1/files/)[^/\s?'\"]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")


def redact(text: str) -> str:
    """`text` without secrets: URL credentials, query-string values, `/v1/files/` tokens, bearer tokens,
    AWS access key IDs and the secrets `configure` was given become `***`."""
    if not text:
        return text
    # Every line goes through here (the API writes one per request): each pattern runs only when a
    # substring it needs is present, so a line with nothing to redact costs a few `in` checks.
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    if "@" in text and "://" in text:
        text = _URL_CREDENTIALS.sub(rf"\1{_MASK}@", text)
    if "?" in text:
        text = _PARAM.sub(rf"\1{_MASK}", text)
    if "/v1/files/" in text:
        text = _FILES_TOKEN.sub(rf"\1{_MASK}", text)
    if "earer" in text or "EARER" in text or "asic" in text or "ASIC" in text:
        text = _BEARER.sub(rf"\1 {_MASK}", text)
    if "AKIA" in text or "ASIA" in text:
        text = _AWS_KEY_ID.sub(_MASK, text)
    return text


def redact_command(args: Sequence[str]) -> str:
    """A command line as a shell would take it, redacted."""
    return redact(shlex.join(str(a) for a in args))


# ---------------------------------------------------------------- formatting ------------------------------


def job_of(workflow_id: str | None) -> str | None:
    """The job a workflow ID names: a TranscodeJob's ID is its job's (`job_…`); the worker's other
    workflows (cleanup, webhook redelivery) are no job."""
    return workflow_id if workflow_id and workflow_id.startswith("job_") else None


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The line's fields besides time, level, logger and message: the job's first, then the rest."""
    out: dict[str, Any] = {}
    wf = getattr(record, "temporal_workflow", None)
    if isinstance(wf, dict):
        out["job_id"] = job_of(wf.get("workflow_id"))
    act = getattr(record, "temporal_activity", None)
    if isinstance(act, dict):
        out.update(
            job_id=job_of(act.get("workflow_id")),
            attempt=act.get("attempt"),
            activity=act.get("activity_type"),
        )
    elif activity.in_activity():
        info = activity.info()
        out.update(job_id=job_of(info.workflow_id), attempt=info.attempt, activity=info.activity_type)
    out.update(_context.get() or {})
    out.pop("started", None)  # a request's start time: only its access line's duration uses it
    for key, value in record.__dict__.items():
        if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
            out[key] = value
    if _is_access(record):
        client, method, path, _version, status = record.args  # type: ignore[misc]
        out.update(method=method, path=redact(str(path)), status=status, client=client)
        started = (_context.get() or {}).get("started")
        if isinstance(started, float):
            out["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    if _trace_ids is not None and (ids := _trace_ids()):
        out["trace_id"], out["span_id"] = ids
    ordered = {k: out.pop(k) for k in JOB_FIELDS if out.get(k) is not None}
    ordered.update((k, v) for k, v in out.items() if v is not None)
    return ordered


def _message(record: logging.LogRecord) -> str:
    if _is_access(record):
        _client, method, path, _version, status = record.args  # type: ignore[misc]
        return redact(f"{method} {path} {status}")
    return redact(record.getMessage())


def _is_access(record: logging.LogRecord) -> bool:
    """uvicorn's access line: its args are (client, method, path, HTTP version, status)."""
    return record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def _time(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, msg, the job fields, other fields, exc."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _time(record),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": _message(record),
        }
        line.update({k: _clean(v) for k, v in _fields(record).items() if k not in line})
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-12-06T16:22:19.123Z worker INFO recast.activity [job_… out_… attempt=1] message key=value`."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: _clean(v) for k, v in _fields(record).items()}
        job = [str(fields.pop(k)) for k in ("job_id", "output_id") if k in fields]
        if "attempt" in fields:
            job.append(f"attempt={fields.pop('attempt')}")
        fields.pop("activity", None)  # the message says what runs; the JSON line names it
        if _is_access(record):
            for said in ("method", "path", "status"):  # the message is "METHOD PATH STATUS"
                fields.pop(said, None)
        parts = [_time(record), self.service, record.levelname, record.name]
        if job:
            parts.append("[" + " ".join(job) + "]")
        parts.append(_message(record))
        parts += [f"{k}={_text_value(v)}" for k, v in fields.items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + redact(self.formatException(record.exc_info))
        return text


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        return value if value and not any(c.isspace() or c in "\"'" for c in value) else json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


# ---------------------------------------------------------------- set-up ----------------------------------


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so a second `configure` (tests build several apps in one process) replaces it."""


def configure(service: str, fmt: str = "text", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Send every logger's lines, in `fmt`, to stderr: Recast's, Temporal's and uvicorn's (its access
    log included). `secrets` are never printed (S3 and GCS credentials, signing secrets)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    _secrets[:] = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)
    handler = _Handler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warning is a line in the same format, not raw stderr
    # uvicorn installs its own handlers and formats before it calls the app factory: route its
    # loggers (startup, errors, the access log) through the one handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # A line per outbound request (fetches, webhooks) would repeat what the activity logs itself.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The formatter prints the activity's and workflow's details as fields: not again in the message.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False


def configure_from(service: str, settings: Settings) -> None:
    """`configure` with the process's settings: their format and level, their secrets never printed."""
    configure(
        service,
        settings.log_format,
        settings.log_level,
        secrets=[
            settings.signing_secret,
            *settings.signing_secrets_previous,
            settings.s3_secret_access_key,
            settings.gcs_credential,
            settings.gcs_token,
        ],
    )
