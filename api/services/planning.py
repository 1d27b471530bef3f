"""A submission's fields → a checked JobCreate → the JobParams its workflow starts with.

Every refusal here is a 400 before anything starts: what a worker would only find out later (an
unsupported output for a clip, AVIF without an encoder, a forbidden address, clashing output paths).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from api.errors import ApiError, describe_validation
from recast.core import ids, paths
from recast.core.chunking import Chunking, chunking_unsupported
from recast.core.formats import OutputType
from recast.core.output_activities import timeline_unsupported
from recast.core.payloads import InputSource, JobParams, JobSettings, PlannedOutput, Webhook
from recast.core.requests import JobCreate, OptimizeCreate
from recast.infra import ffmpeg_features, net
from recast.infra.config import Settings


def validate(
    raw: dict[str, object], model: type[JobCreate], uploaded: bool, header_key: str | None
) -> JobCreate:
    """The submission's fields (`raw`, from JSON or a form; `uploaded`: it had a media file part) as a
    `model`, with the checks the model alone cannot make. `header_key`: the Idempotency-Key header."""
    if raw.get("outputs") is None and not raw.get("thumbnails") and not issubclass(model, OptimizeCreate):
        raise ApiError(400, "invalid-input", "outputs: at least one output (or thumbnails) is required")
    if raw.get("outputs") is None:
        raw.pop("outputs", None)  # the model's default
    if not uploaded and not raw.get("input_url") and raw.get("inputs") is None:
        raise ApiError(400, "invalid-input", "media: a media file part (or input_url, or inputs) is required")
    if header_key is not None:
        if raw.get("idempotency_key") not in (None, header_key):
            raise ApiError(400, "invalid-input", "Idempotency-Key and idempotency_key differ")
        raw["idempotency_key"] = header_key
    try:
        req = model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, "invalid-input", describe_validation(list(exc.errors()))) from exc
    if uploaded and (req.input_url or req.inputs is not None):
        given = "input_url" if req.input_url else "inputs"
        raise ApiError(400, "invalid-input", f"send either a media file or {given}, not both")
    joined = req.inputs is not None and len(req.inputs) > 1
    for i, spec in enumerate(req.outputs):
        if why := timeline_unsupported(spec, clipped=req.clip is not None, joined=joined):
            raise ApiError(400, "invalid-input", f"outputs[{i}]: {why}")
    if req.chunking is Chunking.on and (why := chunking_unsupported(req.outputs, joined=joined)):
        raise ApiError(400, "invalid-input", why)
    _check_image_formats(req)
    return req


def _check_image_formats(req: JobCreate) -> None:
    """400 for an avif output when this installation's ffmpeg cannot write AVIF (the API and the workers
    run the same image; a worker without it would fail the output with encode-failed)."""
    if any(o.type is OutputType.avif for o in req.outputs) and not ffmpeg_features.avif_available():
        names = ", ".join(ffmpeg_features.image_formats(avif=False))
        raise ApiError(
            400,
            "invalid-input",
            f"outputs: avif is not available on this installation (its ffmpeg has no AVIF encoder); "
            f"image outputs available: {names}",
        )


async def check_targets(req: JobCreate, settings: Settings) -> None:
    """400 `forbidden-url` now for an input or webhook URL aimed at a forbidden address, when its host is
    an IP or resolves to one. Early feedback only: DNS may answer differently later, so the worker checks
    again on every connection it makes (recast/infra/net.py), and that check is the one that holds."""
    policy = net.policy_for(settings.url_allowlist)
    named = [("input_url", req.input_url), ("webhook_url", req.webhook_url)]
    named += [(f"inputs[{i}]", url) for i, url in enumerate(req.inputs or [])]
    named += [(f"captions[{i}].url", c.url) for i, c in enumerate(req.captions)]
    named += [
        (f"outputs[{i}].watermark.image", o.watermark.image) for i, o in enumerate(req.outputs) if o.watermark
    ]
    for name, url in named:
        if url:
            try:
                await net.check_url(url, policy)
            except net.ForbiddenUrl as exc:
                raise ApiError(400, "forbidden-url", f"{name}: {exc}") from exc


def job_params(
    req: JobCreate,
    job_id: str,
    org: str,
    source: InputSource,
    sources: list[InputSource],
    created_at: datetime,
    job_settings: JobSettings,
) -> JobParams:
    """What the job's workflow starts with: the request, its planned outputs and the settings it runs by."""
    return JobParams(
        job_id=job_id,
        organization=org,
        source=source,
        inputs=sources,
        clip=req.clip,
        outputs=plan_outputs(req, job_id, created_at),
        captions=req.captions,
        metadata=req.metadata,
        created_at=created_at,
        priority=req.priority,
        delayed_start=req.delayed_start,
        idempotency_key=req.idempotency_key,
        webhook=Webhook(url=req.webhook_url, secret=req.webhook_secret) if req.webhook_url else None,
        settings=job_settings,
        chunking=req.chunking,
        chunk_duration=req.chunk_duration,
    )


def job_settings(settings: Settings, base_url: str, local_storage: bool) -> JobSettings:
    """The settings a job runs by, fixed at submission (a deploy meanwhile does not change them)."""
    return JobSettings(
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        stall_timeout_s=settings.stall_timeout_s,
        encode_attempts=settings.encode_attempts,
        url_ttl_s=settings.url_ttl_s,
        public_url=base_url,
        local_storage=local_storage,
        confirmation_timeout_s=settings.confirmation_timeout_s,
        webhook_retry_s=settings.webhook_retry_s,
        max_duration_s=settings.max_duration_s,
        upload_attempts=settings.upload_attempts,
        upload_pickup_timeout_s=settings.upload_pickup_timeout_s,
        chunking_min_duration_s=settings.chunking_min_duration_s,
    )


def plan_outputs(req: JobCreate, job_id: str, created_at: datetime) -> list[PlannedOutput]:
    """Each output with its ID and, with `output_path_template`, its storage path (400 when two clash)."""
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
