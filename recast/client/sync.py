"""`Recast`: the synchronous Python client of the Recast API (httpx).

    from recast.client import Recast

    with Recast("http://127.0.0.1:8000", "rk_…") as recast:
        job = recast.submit("clip.mp4", [{"type": "mp4", "video": {"codec": "h264"}}])
        job = recast.wait(job.id, on_event=lambda e: print(e.job.progress))
        paths = recast.download(job, "out/")
        recast.create_template("web", outputs=[{"preset": "web"}], locked=["outputs"])
        batch = recast.submit_batch([{"input_url": url, "template": "web"} for url in urls])
        batch = recast.wait_batch(batch.id, on_update=lambda b: print(b.counts))

Every answer is parsed into the models the API itself uses (`recast.core`); every error answer raises
`RecastError` with the API's code and HTTP status. The async twin is `AsyncRecast` (aio.py).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from recast.client import base
from recast.client.base import (
    BatchCallback,
    DownloadProgress,
    EventCallback,
    RecastError,
    UploadProgress,
)
from recast.core.batches import Batch
from recast.core.job import Job, JobStatus
from recast.core.requests import JobCreate
from recast.core.responses import BatchWithJobs, DownloadLink, JobEvent, JobList, TemplateList, UploadTicket
from recast.core.specs import OutputSpec
from recast.core.templates import Template, TemplateBody
from recast.core.webhooks import Delivery, DeliveryList, Redelivery


class Recast:
    """A client of one Recast API. Address and key default to RECAST_API_URL and RECAST_API_KEY."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60
    ) -> None:
        url, key = base.defaults(base_url, api_key)
        self.timeout = timeout
        self.http = httpx.Client(**base.client_options(url, key, timeout))
        # Upload and download URLs carry their own signature: no API key goes to them (a pre-signed S3
        # URL refuses a request that has a second credential).
        self.bare = httpx.Client(timeout=timeout)

    def __enter__(self) -> Recast:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()
        self.bare.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc

    # ---------------------------------------------------------------- jobs ---------------------------------

    def submit(
        self,
        source: str | Path,
        outputs: builtins.list[OutputSpec | Mapping[str, Any]] | None = None,
        *,
        on_upload: UploadProgress | None = None,
        **fields: Any,
    ) -> Job:
        """Submit a job from a local file (uploaded first, see `upload`), or a URL (`https://`, `http://`,
        `s3://`, `gs://`, `upload://…`). `fields` are the other fields of `POST /v1/jobs` (priority,
        metadata, clip, webhook_url, delayed_start, idempotency_key, template, …); with a `template`,
        `outputs` may be left out (the template's are used)."""
        input_url = str(source) if base.is_url(source) else self.upload(source, on_upload).input_url
        return base.parse(Job, self._send("POST", "/v1/jobs", json=base.job_body(input_url, outputs, fields)))

    def upload(self, path: str | Path, on_progress: UploadProgress | None = None) -> UploadTicket:
        """Upload a local file (`POST /v1/uploads`, then its bytes to where that says); submit a job with
        the ticket's `input_url`."""
        file = base.local_file(path)
        ticket = base.parse(UploadTicket, self._send("POST", "/v1/uploads", json=base.upload_body(file)))
        try:
            resp = self.bare.request(
                ticket.method,
                ticket.url,
                content=base.file_chunks(file, on_progress),
                headers=base.upload_headers(ticket, file),
                timeout=httpx.Timeout(self.timeout, write=None),
            )
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc
        base.check(resp)
        return ticket

    def get(self, job_id: str) -> Job:
        return base.parse(Job, self._send("GET", f"/v1/jobs/{job_id}"))

    def list_page(
        self, status: JobStatus | str | None = None, limit: int = 50, cursor: str | None = None
    ) -> JobList:
        """One page of `GET /v1/jobs`, newest first."""
        params = {
            k: v for k, v in {"status": status, "limit": limit, "cursor": cursor}.items() if v is not None
        }
        return base.parse(JobList, self._send("GET", "/v1/jobs", params=params))

    def list(self, status: JobStatus | str | None = None, page_size: int = 50) -> Iterator[Job]:
        """Every job (with `status`), newest first, page after page."""
        cursor = None
        while True:
            page = self.list_page(status, page_size, cursor)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def cancel(self, job_id: str) -> Job:
        return base.parse(Job, self._send("POST", f"/v1/jobs/{job_id}/cancel"))

    def confirm(self, job_id: str) -> Job:
        return base.parse(Job, self._send("POST", f"/v1/jobs/{job_id}/confirm"))

    def retry(self, job_id: str, outputs: dict[str, dict[str, Any]] | None = None) -> Job:
        """Run a partial or failed job's failed outputs again, `outputs` overriding their settings by
        output ID; the Job as it reads now (its `attempts` list the runs)."""
        return base.parse(
            Job, self._send("POST", f"/v1/jobs/{job_id}/retry", json={"outputs": outputs or {}})
        )

    # ---------------------------------------------------------------- watching -----------------------------

    def events(self, job_id: str) -> Iterator[JobEvent]:
        """The job's events (`GET /v1/jobs/{id}/events`, server-sent events) until the stream ends."""
        timeout = httpx.Timeout(self.timeout, read=base.EVENTS_READ_TIMEOUT_S)
        path = f"/v1/jobs/{job_id}/events"
        try:
            with self.http.stream("GET", path, headers=base.EVENTS_HEADERS, timeout=timeout) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    base.check(resp)
                decoder = base.SseDecoder()
                for line in resp.iter_lines():
                    if (event := decoder.feed(line)) is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc

    def wait(
        self, job_id: str, on_event: EventCallback | None = None, *, stop_at_confirmation: bool = True
    ) -> Job:
        """Follow the job's events stream until it ends (or waits for confirmation), calling `on_event`
        with each event; returns the final Job. A dropped stream is reopened (it starts again with a
        snapshot, so nothing is missed)."""
        reconnects = base.Reconnects(job_id)
        while True:
            err = None
            try:
                for event in self.events(job_id):
                    reconnects.failures = 0
                    if on_event:
                        on_event(event)
                    if base.wait_over(event, stop_at_confirmation):
                        return event.job
            except RecastError as exc:
                err = exc
            time.sleep(reconnects.pause(err))

    # ---------------------------------------------------------------- downloads ----------------------------

    def download_link(self, job_id: str, output_id: str) -> DownloadLink:
        return base.parse(DownloadLink, self._send("GET", f"/v1/jobs/{job_id}/outputs/{output_id}/download"))

    def download(
        self, job: Job | str, dest: str | Path, on_progress: DownloadProgress | None = None
    ) -> builtins.list[Path]:
        """Save every completed output under `dest`; a folder output (HLS/DASH package, thumbnails)
        whole, in a folder of its own. Returns each output's file (a folder output's entry file)."""
        if isinstance(job, str):
            job = self.get(job)
        saved = []
        for output in base.completed(job):
            files, entry = base.plan(output, self.download_link(job.id, output.id), Path(dest))
            for target in files:
                self._fetch(target, on_progress)
            saved.append(entry)
        return saved

    def _fetch(self, target: base.Target, on_progress: DownloadProgress | None) -> None:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.bare.stream("GET", target.url) as resp, target.path.open("wb") as fh:
                if resp.status_code >= 400:
                    resp.read()
                    base.check(resp)
                total = int(resp.headers.get("Content-Length") or target.size)
                for chunk in resp.iter_bytes(base.CHUNK):
                    fh.write(chunk)
                    if on_progress:
                        on_progress(target.output, target.name, resp.num_bytes_downloaded, total)
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc

    # ---------------------------------------------------------------- webhooks -----------------------------

    def webhooks(self, job_id: str) -> builtins.list[Delivery]:
        """The job's webhook deliveries, each with its attempts."""
        return base.parse(DeliveryList, self._send("GET", f"/v1/jobs/{job_id}/webhooks")).data

    def redeliver(self, job_id: str, delivery_id: str) -> Redelivery:
        return base.parse(
            Redelivery, self._send("POST", f"/v1/jobs/{job_id}/webhooks/{delivery_id}/redeliver")
        )

    # ---------------------------------------------------------------- batches ------------------------------

    def submit_batch(
        self,
        jobs: Sequence[JobCreate | Mapping[str, Any]],
        *,
        metadata: dict[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Batch:
        """Submit up to 1,000 jobs at once (`POST /v1/batches`), each a `POST /v1/jobs` JSON body: an
        `input_url` (upload local files first with `upload`) or `inputs`, a `template` allowed, no
        `idempotency_key`. All or nothing: a refusal is a RecastError naming `jobs[i]`."""
        fields = {"metadata": metadata, "webhook_url": webhook_url, "webhook_secret": webhook_secret}
        return base.parse(Batch, self._send("POST", "/v1/batches", json=base.batch_body(jobs, fields)))

    def get_batch(
        self,
        batch_id: str,
        *,
        status: JobStatus | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> BatchWithJobs:
        """The batch (its `counts`, costs, status) and one page of its jobs, newest first."""
        params = {
            k: v for k, v in {"status": status, "limit": limit, "cursor": cursor}.items() if v is not None
        }
        return base.parse(BatchWithJobs, self._send("GET", f"/v1/batches/{batch_id}", params=params))

    def batch_jobs(
        self, batch_id: str, status: JobStatus | str | None = None, page_size: int = 50
    ) -> Iterator[Job]:
        """Every job of the batch (with `status`), newest first, page after page. Listed from Temporal
        visibility: a job's status here may be a moment behind `get` (or `wait`) of the job."""
        cursor = None
        while True:
            page = self.get_batch(batch_id, status=status, limit=page_size, cursor=cursor)
            yield from page.jobs
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def cancel_batch(self, batch_id: str) -> Batch:
        """Start no more of its jobs, cancel the running ones; the ended batch (409 `not-cancelable` if
        it had ended)."""
        return base.parse(Batch, self._send("POST", f"/v1/batches/{batch_id}/cancel"))

    def wait_batch(
        self, batch_id: str, on_update: BatchCallback | None = None, *, interval: float = base.BATCH_POLL_S
    ) -> Batch:
        """Read the batch every `interval` seconds until its last job has ended (a batch has no events
        stream), calling `on_update` with each read; returns the ended Batch."""
        while True:
            batch = base.batch_of(self.get_batch(batch_id, limit=1))
            if on_update:
                on_update(batch)
            if base.batch_over(batch):
                return batch
            time.sleep(interval)

    # ---------------------------------------------------------------- templates ----------------------------

    def create_template(
        self, name: str, body: TemplateBody | Mapping[str, Any] | None = None, **fields: Any
    ) -> Template:
        """Version 1 of a new template (`POST /v1/templates`): the job fields it sets (`outputs`,
        `priority`, `metadata`, …) and `locked`, from `body` and/or `fields`. A name in use → 409
        `template-exists`."""
        payload = {**base.template_body(body, fields), "name": name}
        return base.parse(Template, self._send("POST", "/v1/templates", json=payload))

    def list_templates(self) -> builtins.list[Template]:
        """The organization's templates, each at its latest version."""
        return base.parse(TemplateList, self._send("GET", "/v1/templates")).data

    def get_template(self, name: str, version: int | None = None) -> Template:
        """The template's latest version, or `version`."""
        params = {"version": version} if version is not None else {}
        return base.parse(Template, self._send("GET", f"/v1/templates/{name}", params=params))

    def update_template(
        self, name: str, body: TemplateBody | Mapping[str, Any] | None = None, **fields: Any
    ) -> Template:
        """The next version with exactly these fields (`PUT` replaces the whole template: pass the
        current one, `get_template(name)`, as `body` to change only `fields`)."""
        payload = base.template_body(body, fields)
        return base.parse(Template, self._send("PUT", f"/v1/templates/{name}", json=payload))

    def delete_template(self, name: str) -> None:
        """Retire the template: new jobs can no longer name it; its versions stay readable."""
        base.check(self._send("DELETE", f"/v1/templates/{name}"))
