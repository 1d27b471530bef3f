"""`AsyncRecast`: the asyncio Python client of the Recast API (httpx), method for method the twin of
`Recast` (sync.py); what they share (requests, parsing, errors, the events parser) is in base.py.

    async with AsyncRecast() as recast:
        job = await recast.submit("clip.mp4", [{"type": "mp4", "video": {"codec": "h264"}}])
        job = await recast.wait(job.id, on_event=lambda e: print(e.job.progress))
        async for old in recast.list(status="failed"):
            ...
        batch = await recast.submit_batch([{"input_url": url, "template": "web"} for url in urls])
        batch = await recast.wait_batch(batch.id, on_update=lambda b: print(b.counts))
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from recast.client import base
from recast.client.base import BatchCallback, DownloadProgress, EventCallback, RecastError, UploadProgress
from recast.core.batches import Batch
from recast.core.job import Job, JobStatus
from recast.core.requests import JobCreate
from recast.core.responses import BatchWithJobs, DownloadLink, JobEvent, JobList, TemplateList, UploadTicket
from recast.core.specs import OutputSpec
from recast.core.templates import Template, TemplateBody
from recast.core.webhooks import Delivery, DeliveryList, Redelivery


class AsyncRecast:
    """An asyncio client of one Recast API. Address and key default to RECAST_API_URL and RECAST_API_KEY."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60
    ) -> None:
        url, key = base.defaults(base_url, api_key)
        self.timeout = timeout
        self.http = httpx.AsyncClient(**base.client_options(url, key, timeout))
        self.bare = httpx.AsyncClient(timeout=timeout)  # signed upload and download URLs: no API key

    async def __aenter__(self) -> AsyncRecast:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()
        await self.bare.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc

    # ---------------------------------------------------------------- jobs ---------------------------------

    async def submit(
        self,
        source: str | Path,
        outputs: builtins.list[OutputSpec | Mapping[str, Any]] | None = None,
        *,
        on_upload: UploadProgress | None = None,
        **fields: Any,
    ) -> Job:
        """See `Recast.submit`."""
        input_url = str(source) if base.is_url(source) else (await self.upload(source, on_upload)).input_url
        resp = await self._send("POST", "/v1/jobs", json=base.job_body(input_url, outputs, fields))
        return base.parse(Job, resp)

    async def upload(self, path: str | Path, on_progress: UploadProgress | None = None) -> UploadTicket:
        """See `Recast.upload`."""
        file = base.local_file(path)
        ticket = base.parse(
            UploadTicket, await self._send("POST", "/v1/uploads", json=base.upload_body(file))
        )
        try:
            resp = await self.bare.request(
                ticket.method,
                ticket.url,
                content=base.afile_chunks(file, on_progress),
                headers=base.upload_headers(ticket, file),
                timeout=httpx.Timeout(self.timeout, write=None),
            )
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc
        base.check(resp)
        return ticket

    async def get(self, job_id: str) -> Job:
        return base.parse(Job, await self._send("GET", f"/v1/jobs/{job_id}"))

    async def list_page(
        self, status: JobStatus | str | None = None, limit: int = 50, cursor: str | None = None
    ) -> JobList:
        params = {
            k: v for k, v in {"status": status, "limit": limit, "cursor": cursor}.items() if v is not None
        }
        return base.parse(JobList, await self._send("GET", "/v1/jobs", params=params))

    async def list(self, status: JobStatus | str | None = None, page_size: int = 50) -> AsyncIterator[Job]:
        """Every job (with `status`), newest first, page after page."""
        cursor = None
        while True:
            page = await self.list_page(status, page_size, cursor)
            for job in page.data:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def cancel(self, job_id: str) -> Job:
        return base.parse(Job, await self._send("POST", f"/v1/jobs/{job_id}/cancel"))

    async def confirm(self, job_id: str) -> Job:
        return base.parse(Job, await self._send("POST", f"/v1/jobs/{job_id}/confirm"))

    async def retry(self, job_id: str, outputs: dict[str, dict[str, Any]] | None = None) -> Job:
        """Run a partial or failed job's failed outputs again (see `Recast.retry`)."""
        body = {"outputs": outputs or {}}
        return base.parse(Job, await self._send("POST", f"/v1/jobs/{job_id}/retry", json=body))

    # ---------------------------------------------------------------- watching -----------------------------

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """See `Recast.events`."""
        timeout = httpx.Timeout(self.timeout, read=base.EVENTS_READ_TIMEOUT_S)
        path = f"/v1/jobs/{job_id}/events"
        try:
            async with self.http.stream("GET", path, headers=base.EVENTS_HEADERS, timeout=timeout) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    base.check(resp)
                decoder = base.SseDecoder()
                async for line in resp.aiter_lines():
                    if (event := decoder.feed(line)) is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc

    async def wait(
        self, job_id: str, on_event: EventCallback | None = None, *, stop_at_confirmation: bool = True
    ) -> Job:
        """See `Recast.wait`."""
        reconnects = base.Reconnects(job_id)
        while True:
            err = None
            try:
                async for event in self.events(job_id):
                    reconnects.failures = 0
                    if on_event:
                        on_event(event)
                    if base.wait_over(event, stop_at_confirmation):
                        return event.job
            except RecastError as exc:
                err = exc
            await asyncio.sleep(reconnects.pause(err))

    # ---------------------------------------------------------------- downloads ----------------------------

    async def download_link(self, job_id: str, output_id: str) -> DownloadLink:
        resp = await self._send("GET", f"/v1/jobs/{job_id}/outputs/{output_id}/download")
        return base.parse(DownloadLink, resp)

    async def download(
        self, job: Job | str, dest: str | Path, on_progress: DownloadProgress | None = None
    ) -> builtins.list[Path]:
        """See `Recast.download`."""
        if isinstance(job, str):
            job = await self.get(job)
        saved = []
        for output in base.completed(job):
            files, entry = base.plan(output, await self.download_link(job.id, output.id), Path(dest))
            for target in files:
                await self._fetch(target, on_progress)
            saved.append(entry)
        return saved

    async def _fetch(self, target: base.Target, on_progress: DownloadProgress | None) -> None:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with self.bare.stream("GET", target.url) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    base.check(resp)
                total = int(resp.headers.get("Content-Length") or target.size)
                with target.path.open("wb") as fh:
                    async for chunk in resp.aiter_bytes(base.CHUNK):
                        fh.write(chunk)
                        if on_progress:
                            on_progress(target.output, target.name, resp.num_bytes_downloaded, total)
        except httpx.HTTPError as exc:
            raise base.unreachable(exc) from exc

    # ---------------------------------------------------------------- webhooks -----------------------------

    async def webhooks(self, job_id: str) -> builtins.list[Delivery]:
        return base.parse(DeliveryList, await self._send("GET", f"/v1/jobs/{job_id}/webhooks")).data

    async def redeliver(self, job_id: str, delivery_id: str) -> Redelivery:
        resp = await self._send("POST", f"/v1/jobs/{job_id}/webhooks/{delivery_id}/redeliver")
        return base.parse(Redelivery, resp)

    # ---------------------------------------------------------------- batches ------------------------------

    async def submit_batch(
        self,
        jobs: Sequence[JobCreate | Mapping[str, Any]],
        *,
        metadata: dict[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Batch:
        """See `Recast.submit_batch`."""
        fields = {"metadata": metadata, "webhook_url": webhook_url, "webhook_secret": webhook_secret}
        return base.parse(Batch, await self._send("POST", "/v1/batches", json=base.batch_body(jobs, fields)))

    async def get_batch(
        self,
        batch_id: str,
        *,
        status: JobStatus | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> BatchWithJobs:
        """The batch and one page of its jobs, newest first."""
        params = {
            k: v for k, v in {"status": status, "limit": limit, "cursor": cursor}.items() if v is not None
        }
        return base.parse(BatchWithJobs, await self._send("GET", f"/v1/batches/{batch_id}", params=params))

    async def batch_jobs(
        self, batch_id: str, status: JobStatus | str | None = None, page_size: int = 50
    ) -> AsyncIterator[Job]:
        """See `Recast.batch_jobs`."""
        cursor = None
        while True:
            page = await self.get_batch(batch_id, status=status, limit=page_size, cursor=cursor)
            for job in page.jobs:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def cancel_batch(self, batch_id: str) -> Batch:
        return base.parse(Batch, await self._send("POST", f"/v1/batches/{batch_id}/cancel"))

    async def wait_batch(
        self, batch_id: str, on_update: BatchCallback | None = None, *, interval: float = base.BATCH_POLL_S
    ) -> Batch:
        """See `Recast.wait_batch`."""
        while True:
            batch = base.batch_of(await self.get_batch(batch_id, limit=1))
            if on_update:
                on_update(batch)
            if base.batch_over(batch):
                return batch
            await asyncio.sleep(interval)

    # ---------------------------------------------------------------- templates ----------------------------

    async def create_template(
        self, name: str, body: TemplateBody | Mapping[str, Any] | None = None, **fields: Any
    ) -> Template:
        """See `Recast.create_template`."""
        payload = {**base.template_body(body, fields), "name": name}
        return base.parse(Template, await self._send("POST", "/v1/templates", json=payload))

    async def list_templates(self) -> builtins.list[Template]:
        return base.parse(TemplateList, await self._send("GET", "/v1/templates")).data

    async def get_template(self, name: str, version: int | None = None) -> Template:
        params = {"version": version} if version is not None else {}
        return base.parse(Template, await self._send("GET", f"/v1/templates/{name}", params=params))

    async def update_template(
        self, name: str, body: TemplateBody | Mapping[str, Any] | None = None, **fields: Any
    ) -> Template:
        """See `Recast.update_template`."""
        payload = base.template_body(body, fields)
        return base.parse(Template, await self._send("PUT", f"/v1/templates/{name}", json=payload))

    async def delete_template(self, name: str) -> None:
        base.check(await self._send("DELETE", f"/v1/templates/{name}"))
