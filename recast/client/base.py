"""What the sync and the async SDK clients share: where the API is, the requests they make, how answers
become models or `RecastError`s, the server-sent events parser and where downloads go. No I/O here, so
`Recast` (sync.py) and `AsyncRecast` (aio.py) differ only in how they send a request.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from recast.core.batches import Batch, BatchStatus
from recast.core.job import Job, JobStatus, Output, OutputStatus
from recast.core.requests import INPUT_SCHEMES, JobCreate
from recast.core.responses import BatchWithJobs, DownloadLink, JobEvent, UploadCreate, UploadTicket
from recast.core.specs import OutputSpec
from recast.core.templates import TemplateBody

DEFAULT_URL = "http://127.0.0.1:8000"
CHUNK = 1024 * 1024
# The events stream sends a heartbeat every RECAST_EVENTS_HEARTBEAT seconds (30 by default): a read
# silent for this long means the connection is gone, and `wait` reconnects (a new stream starts with a
# snapshot, so nothing is missed).
EVENTS_READ_TIMEOUT_S = 90.0
RECONNECTS = 5
# A batch has no events stream: `wait_batch` reads it this often (one describe of its workflow each).
BATCH_POLL_S = 1.0

M = TypeVar("M", bound=BaseModel)

UploadProgress = Callable[[int, int], None]
"""Called as an upload goes: (bytes sent, total bytes)."""
EventCallback = Callable[[JobEvent], None]
"""Called with every event of the job's events stream (`snapshot`, `progress`, `status_change`, …)."""
DownloadProgress = Callable[[Output, str, int, int], None]
"""Called as a download goes: (the output, the file's name, bytes so far, its size or 0 if unknown)."""
BatchCallback = Callable[[Batch], None]
"""Called with the batch (its `counts`) each time `wait_batch` reads it."""


class RecastError(Exception):
    """An error answer of the API: its HTTP `status` and `{"error": {"code", "message"}}`; status 0 and
    code `unreachable` when the API could not be reached at all."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def defaults(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """The API's address and key: the arguments, else RECAST_API_URL / RECAST_API_KEY, else the key
    `make run` wrote to $RECAST_DATA_DIR/api_key."""
    url = base_url or os.environ.get("RECAST_API_URL") or DEFAULT_URL
    key = api_key or os.environ.get("RECAST_API_KEY", "")
    if not key:
        key_file = Path(os.environ.get("RECAST_DATA_DIR", "var")) / "api_key"
        key = key_file.read_text().strip() if key_file.exists() else ""
    return url.rstrip("/"), key


def client_options(base_url: str, api_key: str, timeout: float) -> dict[str, Any]:
    return {"base_url": base_url, "headers": {"Authorization": f"Bearer {api_key}"}, "timeout": timeout}


def check(resp: httpx.Response) -> Any:
    """The JSON of a successful answer; RecastError with the API's code and status otherwise."""
    if resp.status_code >= 400:
        try:
            err = resp.json()["error"]
            code, message = str(err["code"]), str(err["message"])
        except (ValueError, KeyError, TypeError):
            code, message = f"http-{resp.status_code}", resp.text[:200] or resp.reason_phrase
        raise RecastError(resp.status_code, code, message)
    return resp.json() if resp.content else None


def parse(model: type[M], resp: httpx.Response) -> M:
    return model.model_validate(check(resp))


def unreachable(exc: httpx.HTTPError) -> RecastError:
    return RecastError(0, "unreachable", f"cannot reach the API: {type(exc).__name__}: {exc}")


def is_url(source: str | Path) -> bool:
    """Every input_url scheme (http(s), s3, gs, upload) is sent as a URL; anything else is a local file."""
    return isinstance(source, str) and source.lower().startswith(tuple(f"{s}://" for s in INPUT_SCHEMES))


def local_file(source: str | Path) -> Path:
    path = Path(source)
    if not path.is_file():
        raise RecastError(400, "invalid-input", f"{source}: no such file")
    return path


def upload_body(path: Path) -> dict[str, Any]:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return UploadCreate(filename=path.name, size=path.stat().st_size, content_type=content_type).model_dump()


def job_body(
    input_url: str, outputs: list[OutputSpec | Mapping[str, Any]] | None, fields: dict[str, Any]
) -> dict[str, Any]:
    """The JSON of `POST /v1/jobs`. Outputs and fields go as given: the API is the one judge of them,
    so its error (code and message naming the field) is what the caller gets."""
    extra = {
        k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v
        for k, v in fields.items()
        if v is not None
    }
    if outputs is None:  # a job from a template may take its outputs from there
        return {"input_url": input_url, **extra}
    specs = [
        o.model_dump(mode="json", exclude_none=True) if isinstance(o, BaseModel) else dict(o) for o in outputs
    ]
    return {"input_url": input_url, "outputs": specs, **extra}


def json_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields as JSON values (models, also inside lists and dicts, dumped without their unset fields),
    those left None out: the API's default applies."""
    return {k: to_jsonable_python(v, exclude_none=True) for k, v in fields.items() if v is not None}


def batch_body(jobs: Sequence[JobCreate | Mapping[str, Any]], fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON of `POST /v1/batches`: each job a `POST /v1/jobs` JSON body (a dict, or a JobCreate of
    which only the fields set are sent, so a template's fields are not overridden by defaults)."""
    bodies = [
        j.model_dump(mode="json", exclude_unset=True) if isinstance(j, BaseModel) else json_fields(j)
        for j in jobs
    ]
    return {"jobs": bodies, **json_fields(fields)}


def template_body(body: TemplateBody | Mapping[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON of `POST /v1/templates` (with `name`) or `PUT /v1/templates/{name}`: `body` (a
    TemplateBody, a Template read back — its name, version and time are dropped — or a dict), with
    `fields` over it."""
    if isinstance(body, BaseModel):
        given = body.model_dump(mode="json", include=set(TemplateBody.model_fields), exclude_none=True)
    else:
        given = json_fields(body or {})
    return {**given, **json_fields(fields)}


def batch_of(page: BatchWithJobs) -> Batch:
    """The Batch of a `GET /v1/batches/{id}` answer, without its page of jobs."""
    return Batch.model_validate(page.model_dump(exclude={"jobs", "next_cursor"}))


def batch_over(batch: Batch) -> bool:
    return batch.status is not BatchStatus.running


def wait_over(event: JobEvent, stop_at_confirmation: bool) -> bool:
    """The last event `wait` needs: `completed` (the stream's last), or the job waiting for confirmation."""
    waiting = stop_at_confirmation and event.job.status is JobStatus.awaiting_confirmation
    return event.event == "completed" or waiting


@dataclass
class Reconnects:
    """When `wait` reopens a dropped events stream, and when it gives up."""

    job_id: str
    failures: int = 0

    def pause(self, err: RecastError | None) -> float:
        """Seconds to wait before reopening after the stream ended (`err`: how); raises when an error
        answer (a 404, say) or too many drops in a row make reopening pointless."""
        if err is not None and err.status != 0:
            raise err
        self.failures += 1
        if self.failures > RECONNECTS:
            raise err or RecastError(
                0, "unreachable", f"the events stream of {self.job_id} keeps ending early"
            )
        return float(min(0.2 * 2**self.failures, 5))


@dataclass
class SseDecoder:
    """Server-sent events (`event:` / `data:` lines, a blank line ends one) → JobEvents."""

    data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> JobEvent | None:
        if line.startswith("data:"):
            self.data.append(line[5:].lstrip())
        elif not line.strip() and self.data:
            event = JobEvent.model_validate(json.loads("\n".join(self.data)))
            self.data = []
            return event
        return None  # `event:` repeats the event's name, which the data carries too; comments ignored


EVENTS_HEADERS = {"Accept": "text/event-stream"}


@dataclass(frozen=True)
class Target:
    """One file to download: where from, where to."""

    output: Output
    name: str
    url: str
    path: Path
    size: int


def plan(output: Output, link: DownloadLink, dest: Path) -> tuple[list[Target], Path]:
    """The files of an output to download and what to hand back: a file goes to `dest` under its
    filename; a folder output (HLS/DASH, thumbnails) goes whole into a folder of its own
    (`{output_id}-{type}/`), so its playlists play from disk, and its entry file is handed back."""
    if not link.files:
        name = output.filename or f"{output.id}.{output.type.value}"
        return [Target(output, name, link.url, dest / name, output.file_size_bytes or 0)], dest / name
    folder = dest / f"{output.id}-{output.type.value}"
    found = []
    for f in link.files:
        path = folder / f.name
        if not path.resolve().is_relative_to(folder.resolve()):
            raise RecastError(400, "invalid-input", f"refusing to write {f.name!r} outside {folder}")
        found.append(Target(output, f.name, f.url, path, f.size))
    return found, folder / (output.filename or "")


def completed(job: Job) -> list[Output]:
    return [o for o in job.outputs if o.status is OutputStatus.completed]


def file_chunks(path: Path, on_progress: UploadProgress | None) -> Iterator[bytes]:
    """The file in chunks for an upload's body, reporting each one as it is taken."""
    total, sent = path.stat().st_size, 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            sent += len(chunk)
            yield chunk
            if on_progress:
                on_progress(sent, total)


def upload_headers(ticket: UploadTicket, path: Path) -> dict[str, str]:
    # The length up front: a pre-signed S3/GCS PUT refuses a chunked body.
    return {**ticket.headers, "Content-Length": str(path.stat().st_size)}


async def afile_chunks(path: Path, on_progress: UploadProgress | None) -> AsyncIterator[bytes]:
    """`file_chunks` for an async client's upload body (each read in a thread: the loop keeps running)."""
    chunks = file_chunks(path, on_progress)
    while chunk := await asyncio.to_thread(next, chunks, b""):
        yield chunk
