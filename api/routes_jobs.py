"""`/v1/jobs`: submit, read, download links."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from activities.sign import download_link
from api.auth import organization
from api.errors import ERROR_RESPONSES, ApiError, describe_validation, error_responses
from api.job_store import JobStore
from api.limits import RATE_LIMITED, Slot, submission_slot
from api.multipart_stream import StoredUpload, parse_form
from api.routes_uploads import resolve_input
from recast.core import ids, paths
from recast.core.contract import UPDATE_CANCEL, UPDATE_CONFIRM
from recast.core.formats import OutputType
from recast.core.job import Job, Output, OutputStatus
from recast.core.payloads import DownloadFile, InputSource, JobParams, JobSettings, PlannedOutput, Webhook
from recast.core.requests import JobCreate, OptimizeCreate
from recast.infra import net
from recast.infra.config import Settings
from recast.infra.storage import Storage, input_key
from recast.media import images
from workflows.transcode import timeline_unsupported

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)  # type: ignore[arg-type]
MAX_JSON_BYTES = 1024 * 1024
# Bodies submit_job parses itself (JSON or a streamed form), named by $ref in SUBMIT_BODY: api/openapi.py
# adds them to the schema's components.
BODY_MODELS: list[type[BaseModel]] = [JobCreate, OptimizeCreate]

SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["media"],
                    "properties": {
                        "media": {"type": "string", "format": "binary", "description": "the input file"},
                        "outputs": {
                            "type": "string",
                            "description": "JSON array of outputs, as in JobCreate",
                        },
                        "thumbnails": {
                            "type": "string",
                            "description": "JSON array of thumbnails specs, as in JobCreate",
                        },
                        "metadata": {"type": "string", "description": "JSON object of string metadata"},
                        "clip": {
                            "type": "string",
                            "description": "JSON object {start, end}, as in JobCreate",
                        },
                        **{
                            name: {"type": "string", "description": f"as `{name}` in JobCreate"}
                            for name in (
                                "priority",
                                "delayed_start",
                                "idempotency_key",
                                "webhook_url",
                                "webhook_secret",
                                "output_path_template",
                            )
                        },
                    },
                }
            },
        },
    }
}


class DownloadLink(BaseModel):
    url: str = Field(description="The file; for a folder output (hls, dash, thumbnails) its entry file.")
    expires_at: datetime
    files: list[DownloadFile] = Field(
        default_factory=list, description="Folder outputs: every file, each under the same token."
    )


def _store(request: Request) -> JobStore:
    return request.app.state.jobs  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _base_url(request: Request) -> str:
    return _settings(request).public_url or str(request.base_url).rstrip("/")


async def _read_json(request: Request) -> dict[str, object]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, "too-large", f"JSON bodies are limited to {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid-input", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid-input", "the body must be a JSON object")
    return data


def _form_json(fields: dict[str, str], name: str, default: object) -> object:
    if name not in fields:
        return default
    try:
        return json.loads(fields[name])
    except ValueError as exc:
        raise ApiError(400, "invalid-input", f"{name}: the form field is not valid JSON") from exc


async def _check_targets(req: JobCreate, settings: Settings) -> None:
    """400 `forbidden-url` now for an input or webhook URL aimed at a forbidden address, when its host is
    an IP or resolves to one. Early feedback only: DNS may answer differently later, so the worker checks
    again on every connection it makes (recast/infra/net.py), and that check is the one that holds."""
    policy = net.policy_for(settings.url_allowlist)
    named = [("input_url", req.input_url), ("webhook_url", req.webhook_url)]
    named += [(f"inputs[{i}]", url) for i, url in enumerate(req.inputs or [])]
    for name, url in named:
        if url:
            try:
                await net.check_url(url, policy)
            except net.ForbiddenUrl as exc:
                raise ApiError(400, "forbidden-url", f"{name}: {exc}") from exc


@router.post(
    "/jobs",
    status_code=202,
    response_model=Job,
    openapi_extra=SUBMIT_BODY,
    summary="Submit a job",
    responses={
        200: {"model": Job, "description": "The job this idempotency key already created"},
        429: RATE_LIMITED,
        **error_responses(415),  # neither JSON nor multipart
    },
)
async def submit_job(
    request: Request, org: str = Depends(organization), slot: Slot = Depends(submission_slot)
) -> Job | JSONResponse:
    """JSON with `input_url`, or multipart with a `media` file part, an `outputs` JSON part and any other
    field as a part of its own."""
    job, created = await start_job(request, org, slot, JobCreate)
    if created:
        return job
    return JSONResponse(job.model_dump(mode="json"), status_code=200)


async def start_job(request: Request, org: str, slot: Slot, model: type[JobCreate]) -> tuple[Job, bool]:
    """Read a submission (JSON, or a streamed multipart form), validate it as `model` and start its
    workflow: (the Job, True), or (the job an idempotency key already made, False)."""
    settings = _settings(request)
    storage: Storage = request.app.state.storage
    header_key = request.headers.get("idempotency-key")
    job_id = ids.job_id()
    declared = int(request.headers.get("content-length") or 0)
    if declared > settings.max_upload_bytes + MAX_JSON_BYTES:
        raise ApiError(
            413, "too-large", f"the upload is larger than the limit of {settings.max_upload_bytes} bytes"
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    upload: StoredUpload | None = None
    if content_type == "multipart/form-data":
        # A fresh folder per upload: a repeated idempotent request must not overwrite the first one's input.
        folder = secrets.token_hex(6)
        form = await parse_form(
            request,
            storage,
            "media",
            lambda name: input_key(org, job_id, name, folder),
            settings.max_upload_bytes,
        )
        upload = form.upload
        raw: dict[str, object] = dict(form.fields)
        if "outputs" in form.fields:
            raw["outputs"] = _form_json(form.fields, "outputs", None)
        raw["metadata"] = _form_json(form.fields, "metadata", {})
        for name in ("inputs", "clip"):
            if name in form.fields:
                raw[name] = _form_json(form.fields, name, None)
        raw["thumbnails"] = _form_json(form.fields, "thumbnails", [])
    elif content_type in ("application/json", ""):
        raw = await _read_json(request)
    else:
        raise ApiError(415, "unsupported-media-type", "send application/json or multipart/form-data")
    try:
        if raw.get("outputs") is None and not raw.get("thumbnails") and not issubclass(model, OptimizeCreate):
            raise ApiError(400, "invalid-input", "outputs: at least one output (or thumbnails) is required")
        if raw.get("outputs") is None:
            raw.pop("outputs", None)  # the model's default
        if upload is None and not raw.get("input_url") and raw.get("inputs") is None:
            raise ApiError(
                400, "invalid-input", "media: a media file part (or input_url, or inputs) is required"
            )
        if header_key is not None:
            if raw.get("idempotency_key") not in (None, header_key):
                raise ApiError(400, "invalid-input", "Idempotency-Key and idempotency_key differ")
            raw["idempotency_key"] = header_key
        try:
            req = model.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(400, "invalid-input", describe_validation(list(exc.errors()))) from exc
        if upload and (req.input_url or req.inputs is not None):
            given = "input_url" if req.input_url else "inputs"
            raise ApiError(400, "invalid-input", f"send either a media file or {given}, not both")
        joined = req.inputs is not None and len(req.inputs) > 1
        for i, spec in enumerate(req.outputs):
            if why := timeline_unsupported(spec, clipped=req.clip is not None, joined=joined):
                raise ApiError(400, "invalid-input", f"outputs[{i}]: {why}")
        _check_image_formats(req)
        await _check_targets(req, settings)
        sources: list[InputSource] = []
        if upload:
            source = InputSource(storage_key=upload.key, filename=upload.filename, size=upload.size)
        elif req.inputs is not None:
            sources = [await _resolve_numbered(storage, org, i, url) for i, url in enumerate(req.inputs)]
            source = sources[0]
        else:
            assert req.input_url
            source = await resolve_input(storage, org, req.input_url)  # upload://, s3://, gs:// checks
        if req.idempotency_key is not None:
            job_id = ids.idempotent_job_id(org, req.idempotency_key)
        created_at = datetime.now(UTC)
        params = JobParams(
            job_id=job_id,
            organization=org,
            source=source,
            inputs=sources,
            clip=req.clip,
            outputs=_plan_outputs(req, job_id, created_at),
            metadata=req.metadata,
            created_at=created_at,
            priority=req.priority,
            delayed_start=req.delayed_start,
            idempotency_key=req.idempotency_key,
            webhook=Webhook(url=req.webhook_url, secret=req.webhook_secret) if req.webhook_url else None,
            settings=JobSettings(
                heartbeat_timeout_s=settings.heartbeat_timeout_s,
                stall_timeout_s=settings.stall_timeout_s,
                encode_attempts=settings.encode_attempts,
                url_ttl_s=settings.url_ttl_s,
                public_url=_base_url(request),
                local_storage=storage.local_root is not None,
                confirmation_timeout_s=settings.confirmation_timeout_s,
                webhook_retry_s=settings.webhook_retry_s,
                max_duration_s=settings.max_duration_s,
            ),
        )
        job, created = await _store(request).start(params)
        slot.started(job.id, created)  # counted as running until visibility shows it
    except BaseException:
        if upload:
            await storage.delete(upload.key)  # a refused job keeps no orphaned upload
        raise
    if upload and not created:
        await storage.delete(upload.key)  # the existing job has its own input
    return job, created


async def _resolve_numbered(storage: Storage, org: str, index: int, url: str) -> InputSource:
    """resolve_input for one of `inputs`, its refusals naming the input's index."""
    try:
        return await resolve_input(storage, org, url)
    except ApiError as exc:
        message = exc.message.removeprefix("input_url: ")
        raise ApiError(exc.status, exc.code, f"inputs[{index}]: {message}", exc.headers) from exc


def _check_image_formats(req: JobCreate) -> None:
    """400 for an avif output when this installation's ffmpeg cannot write AVIF (the API and the workers
    run the same image; a worker without it would fail the output with encode-failed)."""
    if any(o.type is OutputType.avif for o in req.outputs) and not images.avif_available():
        names = ", ".join(images.image_formats(avif=False))
        raise ApiError(
            400,
            "invalid-input",
            f"outputs: avif is not available on this installation (its ffmpeg has no AVIF encoder); "
            f"image outputs available: {names}",
        )


def _plan_outputs(req: JobCreate, job_id: str, created_at: datetime) -> list[PlannedOutput]:
    planned = []
    for spec in req.outputs:
        out_id = ids.output_id()
        path = None
        if req.output_path_template:
            try:
                path = paths.render(
                    req.output_path_template,
                    job_id=job_id,
                    output_id=out_id,
                    created_at=created_at,
                    spec=spec,
                )
            except paths.PathTemplateError as exc:
                raise ApiError(400, "invalid-input", str(exc)) from exc
        planned.append(PlannedOutput(id=out_id, spec=spec, path=path))
    rendered = [p.path for p in planned if p.path]
    if len(set(rendered)) != len(rendered):
        raise ApiError(
            400,
            "invalid-input",
            "output_path_template: two outputs would be stored at the same path; use {output_id}, "
            "{format}, {codec}, {resolution} or {quality} to tell them apart",
        )
    return planned


@router.get("/jobs/{job_id}", response_model=Job, summary="Get a job")
async def get_job(job_id: str, request: Request, org: str = Depends(organization)) -> Job:
    return await _store(request).get(job_id, org)


@router.get(
    "/jobs/{job_id}/outputs/{output_id}/download",
    response_model=DownloadLink,
    summary="Get a signed download URL for a finished output",
)
async def download_output(
    job_id: str, output_id: str, request: Request, org: str = Depends(organization)
) -> DownloadLink:
    job = await _store(request).get(job_id, org)
    out = next((o for o in job.outputs if o.id == output_id), None)
    if out is None:
        raise ApiError(404, "not-found", f"job {job_id} has no output {output_id}")
    if out.status is not OutputStatus.completed:
        detail = f" ({out.error_code}: {out.error_message})" if out.status is OutputStatus.failed else ""
        raise ApiError(409, "not-ready", f"output {output_id} is {out.status.value}, not completed{detail}")
    return await sign_download(request, org, job_id, out)


async def sign_download(request: Request, org: str, job_id: str, out: Output) -> DownloadLink:
    """A fresh signed download link for a completed output."""
    settings = _settings(request)
    storage: Storage = request.app.state.storage
    link = await download_link(
        storage, settings.signing_secret, org, job_id, out, settings.url_ttl_s, _base_url(request)
    )
    assert link is not None  # there is always a base URL here: the request's own
    return DownloadLink(url=link.url, expires_at=link.expires_at, files=link.files)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=Job,
    summary="Cancel a job",
    description="Stops a pending, probing, awaiting-confirmation or processing job: running encodes stop, "
    "outputs already completed stay downloadable, the rest become `canceled`. A finished job → 409 "
    "`not-cancelable`.",
)
async def cancel_job(job_id: str, request: Request, org: str = Depends(organization)) -> Job:
    return await _store(request).control(job_id, org, UPDATE_CANCEL)


@router.post(
    "/jobs/{job_id}/confirm",
    response_model=Job,
    summary="Confirm a delayed-start job",
    description="Lets a job submitted with `delayed_start: true` go on from `awaiting_confirmation` "
    "(after reviewing `total_estimated_cost`). Any other state → 409 `not-awaiting-confirmation`.",
)
async def confirm_job(job_id: str, request: Request, org: str = Depends(organization)) -> Job:
    return await _store(request).control(job_id, org, UPDATE_CONFIRM)
