"""Submitting a job (`POST /v1/jobs`, `POST /v1/optimize`): read the body — JSON, or a multipart form
whose media part streams into storage — check it, plan the job and start its workflow, once per
idempotency key."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request

from api import json_text
from api.errors import ApiError
from api.job_store import JobStore
from api.limits import Slot
from api.multipart_stream import StoredUpload, parse_form
from api.observability import bind_job
from api.services import planning
from api.services.inputs import check_watermarks, resolve_input, resolve_numbered
from api.services.templates import Templates
from recast.core import ids
from recast.core.job import Job, TemplateRef
from recast.core.payloads import InputSource, JobParams
from recast.core.requests import JobCreate
from recast.infra.config import Settings
from recast.infra.storage import Storage, input_key

MAX_JSON_BYTES = 1024 * 1024
# Form fields that hold JSON (the rest are plain strings), in the order they are parsed, each with what
# makes its value when the form has no such field (None: then the submission has none either).
_FORM_JSON: dict[str, Callable[[], object] | None] = {
    "outputs": None,
    "metadata": dict,
    "inputs": None,
    "clip": None,
    "thumbnails": list,
    "captions": None,
}

# An adapter's translation of a read submission (its fields, its stored media part) into native fields.
Translate = Callable[[dict[str, object], StoredUpload | None], Awaitable[dict[str, object]]]


@dataclass(frozen=True)
class Submissions:
    settings: Settings
    storage: Storage
    jobs: JobStore
    base_url: str

    async def start(
        self,
        request: Request,
        org: str,
        slot: Slot,
        model: type[JobCreate],
        translate: Translate | None = None,
        *,
        file_field: str = "media",
        compat: dict[str, str] | None = None,
        header_key: bool = True,
    ) -> tuple[Job, bool]:
        """Read a submission, validate it as `model` and start its workflow: (the Job, True), or (the
        job an idempotency key already made, False). `slot` is the admission the limits granted.
        `translate`: a compatibility adapter's (api/compat/) turning its own fields into native ones,
        after the body is read and before anything is checked, so its jobs get every native check.
        Adapters may also name their form's media part (`file_field`), keep their own fields on the job
        (`compat`, Job.compat), and ignore the Idempotency-Key header (`header_key=False`, an API whose
        key travels in the body)."""
        header = request.headers.get("idempotency-key") if header_key else None
        job_id = ids.job_id()
        raw, upload = await self._read(request, org, job_id, file_field)
        try:
            if translate is not None:
                raw = await translate(raw, upload)
            params = await self.plan(raw, org, model, upload, header, job_id)
            params.compat = dict(compat or {})
            bind_job(params.job_id)  # the request's log lines and span name the job
            job, created = await self.jobs.start(params)
            slot.started(job.id, created)  # counted as running until visibility shows it
        except BaseException:
            if upload:
                await self.storage.delete(upload.key)  # a refused job keeps no orphaned upload
            raise
        if upload and not created:
            await self.storage.delete(upload.key)  # the existing job has its own input
        return job, created

    async def plan(
        self,
        raw: dict[str, object],
        org: str,
        model: type[JobCreate],
        upload: StoredUpload | None,
        header_key: str | None,
        job_id: str,
        created_at: datetime | None = None,
        batch_id: str | None = None,
    ) -> JobParams:
        """A submission's fields → the JobParams its workflow starts with: its template applied, checked
        (every refusal a 400), its inputs resolved."""
        raw, template = await Templates(self.storage).applied(org, raw)
        req = planning.validate(raw, model, upload is not None, header_key)
        await planning.check_targets(req, self.settings)
        await check_watermarks(self.storage, org, req)
        source, sources = await self._sources(req, org, upload)
        if req.idempotency_key is not None:
            job_id = ids.idempotent_job_id(org, req.idempotency_key)
        local = self.storage.local_root is not None
        params = planning.job_params(
            req,
            job_id,
            org,
            source,
            sources,
            created_at or datetime.now(UTC),
            planning.job_settings(self.settings, self.base_url, local),
        )
        params.template = TemplateRef(name=template.name, version=template.version) if template else None
        params.batch_id = batch_id
        return params

    async def _read(
        self, request: Request, org: str, job_id: str, file_field: str = "media"
    ) -> tuple[dict[str, object], StoredUpload | None]:
        """The submission's fields, and its media file part stored (a form) or None (JSON)."""
        limit = self.settings.max_upload_bytes
        declared = int(request.headers.get("content-length") or 0)
        if declared > limit + MAX_JSON_BYTES:
            raise ApiError(413, "too-large", f"the upload is larger than the limit of {limit} bytes")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            # A fresh folder per upload: a repeated idempotent request must not overwrite the first
            # one's input.
            folder = secrets.token_hex(6)
            form = await parse_form(
                request, self.storage, file_field, lambda name: input_key(org, job_id, name, folder), limit
            )
            raw: dict[str, object] = dict(form.fields)
            for name, default in _FORM_JSON.items():
                if name in form.fields:
                    raw[name] = _form_json(form.fields, name)
                elif default is not None:
                    raw[name] = default()
            return raw, form.upload
        if content_type in ("application/json", ""):
            return await _read_json(request), None
        raise ApiError(415, "unsupported-media-type", "send application/json or multipart/form-data")

    async def _sources(
        self, req: JobCreate, org: str, upload: StoredUpload | None
    ) -> tuple[InputSource, list[InputSource]]:
        """The job's input, and with `inputs` every one of them (the first is the input)."""
        if upload:
            return InputSource(storage_key=upload.key, filename=upload.filename, size=upload.size), []
        if req.inputs is not None:
            sources = [await resolve_numbered(self.storage, org, i, url) for i, url in enumerate(req.inputs)]
            return sources[0], sources
        assert req.input_url
        return await resolve_input(self.storage, org, req.input_url), []  # upload://, s3://, gs:// checks


async def _read_json(request: Request) -> dict[str, object]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, "too-large", f"JSON bodies are limited to {MAX_JSON_BYTES} bytes")
    try:
        data = json_text.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid-input", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid-input", "the body must be a JSON object")
    return data


def _form_json(fields: dict[str, str], name: str) -> object:
    try:
        return json_text.loads(fields[name])
    except ValueError as exc:
        raise ApiError(400, "invalid-input", f"{name}: the form field is not valid JSON") from exc
