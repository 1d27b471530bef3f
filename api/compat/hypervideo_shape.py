"""Hypervideo's shapes (docs/compat/hypervideo.md): its formats as native outputs, and a native Job as
its job object — statuses, stages and their progress ranges, result and outputs.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.errors import ApiError
from recast.core.background import RgbColor
from recast.core.formats import OutputType
from recast.core.job import Job, JobStatus, Output, OutputStatus, Stage

# Hypervideo's output formats → the native output that makes each: VP9 with an alpha channel in WebM,
# and the stacked-alpha layout (colour above its mask) in H.264/MP4, which every browser decodes.
FORMATS: dict[str, dict[str, Any]] = {
    "webm": {"type": "webm", "video": {"codec": "vp9"}, "layout": "alpha"},
    "stacked-alpha": {"type": "mp4", "video": {"codec": "h264"}, "layout": "stacked"},
}
FORMAT_OF_TYPE = {OutputType.webm: "webm", OutputType.mp4: "stacked-alpha"}
# Asked for nothing: both, as the document's completed job shows.
DEFAULT_FORMATS = ["webm", "stacked-alpha"]

Status = Literal["queued", "submitted", "processing", "completed", "failed"]
StageName = Literal["queued-on-railway", "loading-input", "processing-video", "uploading-outputs"]
# Hypervideo's stages and their progress ranges; each Recast stage maps into one of them.
STAGE_RANGES: dict[str, tuple[int, int]] = {
    "queued-on-railway": (0, 10),
    "loading-input": (10, 25),
    "processing-video": (25, 85),
    "uploading-outputs": (85, 100),
}
# Recast stage → (Hypervideo stage, the Recast progress range it spans).
STAGES: dict[Stage, tuple[str, tuple[int, int]]] = {
    Stage.queued: ("queued-on-railway", (0, 0)),
    Stage.awaiting_confirmation: ("queued-on-railway", (15, 15)),
    Stage.fetching: ("loading-input", (0, 15)),
    Stage.probing: ("loading-input", (0, 15)),
    Stage.encoding: ("processing-video", (15, 95)),
    Stage.uploading: ("uploading-outputs", (94, 100)),
    Stage.finalizing: ("uploading-outputs", (94, 100)),
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class HypervideoError(BaseModel):
    success: Literal[False] = False
    error: ErrorDetail


class SubmittedData(BaseModel):
    jobId: str
    status: Status


class HypervideoSubmitted(BaseModel):
    success: Literal[True] = True
    data: SubmittedData


class HypervideoOutput(BaseModel):
    format: str
    url: str | None
    size: int | None


class HypervideoResult(BaseModel):
    outputUrl: str | None
    outputFormat: str
    outputSize: int | None
    width: int | None
    height: int | None
    processingTimeMs: int | None
    detectedBackgroundColor: RgbColor | None
    outputs: list[HypervideoOutput]


class HypervideoJobData(BaseModel):
    jobId: str
    type: Literal["video"] = "video"
    status: Status
    progress: int = Field(ge=0, le=100)
    stage: StageName | None
    createdAt: int = Field(description="Unix seconds.")
    startedAt: int | None
    completedAt: int | None
    error: ErrorDetail | None
    result: HypervideoResult | None


class HypervideoJob(BaseModel):
    success: Literal[True] = True
    data: HypervideoJobData


def formats_of(formats: object, single: object) -> list[str]:
    """`formats` (a list, a JSON array, or comma-separated) or `format` → the formats asked, in order;
    400 naming the allowed ones for anything else."""
    given = formats if formats not in (None, "") else single
    if given in (None, ""):
        return list(DEFAULT_FORMATS)
    if isinstance(given, str):
        text = given.strip()
        if text.startswith("["):
            try:
                given = json.loads(text)
            except ValueError:
                raise ApiError(400, "invalid-input", "formats: not a valid JSON array") from None
        else:
            given = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(given, list) or not given or not all(isinstance(f, str) for f in given):
        raise ApiError(400, "invalid-input", "formats: a list of " + ", ".join(FORMATS))
    for name in given:
        if name not in FORMATS:
            raise ApiError(
                400, "invalid-input", f"format: {name!r} is not supported; allowed: {', '.join(FORMATS)}"
            )
    return list(dict.fromkeys(given))


def output_format(name: str, background: dict[str, object]) -> dict[str, object]:
    """The native output spec (JSON) making Hypervideo format `name`, keying out `background`'s colour."""
    spec = FORMATS[name]
    return {
        "type": spec["type"],
        "video": dict(spec["video"]),
        "background": {**background, "layout": spec["layout"]},
    }


def _status(job: Job) -> Status:
    if job.status in (JobStatus.completed, JobStatus.partial):
        return "completed"
    if job.status in (JobStatus.failed, JobStatus.canceled):
        return "failed"
    if job.stage in (Stage.queued, Stage.awaiting_confirmation):
        return "submitted"  # in Temporal's queue: submitted to the processor, not picked up yet
    return "processing"


def _progress(job: Job) -> tuple[StageName | None, int]:
    """(stage, progress): Recast's progress within its stage, scaled into the Hypervideo stage's range."""
    if job.status.terminal:
        return None, 100
    name, (lo, hi) = STAGES.get(job.stage, ("uploading-outputs", (94, 100)))
    start, end = STAGE_RANGES[name]
    share = 0.0 if hi <= lo else min(1.0, max(0.0, (job.progress - lo) / (hi - lo)))
    return name, min(99, round(start + share * (end - start)))  # type: ignore[return-value]


def _seconds(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _error(job: Job) -> ErrorDetail | None:
    if job.status in (JobStatus.failed, JobStatus.canceled):
        first = next((o for o in job.outputs if o.error_code), None)
        code = job.error_code or (first.error_code if first else None) or job.status.value
        message = job.error_message or (first.error_message if first else None) or f"the job was {code}"
        return ErrorDetail(code=code, message=message)
    if job.status is JobStatus.partial:
        failed: list[Output] = [o for o in job.outputs if o.status is not OutputStatus.completed]
        return ErrorDetail(
            code="partial",
            message="; ".join(
                f"{FORMAT_OF_TYPE.get(o.type, o.type.value)}: {o.error_message or o.status.value}"
                for o in failed
            ),
        )
    return None


def _picture_height(out: Output) -> int | None:
    """The picture's height: a stacked-alpha frame holds it twice (colour, then mask)."""
    if out.height is None:
        return None
    return out.height // 2 if out.type is OutputType.mp4 else out.height


def _result(job: Job, links: dict[str, str]) -> HypervideoResult | None:
    done = [o for o in job.outputs if o.status is OutputStatus.completed]
    if not done:
        return None
    first = done[0]
    started = job.probed_at or job.started_at
    took = (
        round((job.completed_at - started).total_seconds() * 1000)
        if job.completed_at is not None and started is not None
        else job.execution.total_duration_ms
    )
    return HypervideoResult(
        outputUrl=links.get(first.id),
        outputFormat=FORMAT_OF_TYPE.get(first.type, first.type.value),
        outputSize=first.file_size_bytes,
        width=first.width,
        height=_picture_height(first),
        processingTimeMs=took,
        detectedBackgroundColor=next((o.background_color for o in done if o.background_color), None),
        outputs=[
            HypervideoOutput(
                format=FORMAT_OF_TYPE.get(o.type, o.type.value), url=links.get(o.id), size=o.file_size_bytes
            )
            for o in done
        ],
    )


def job_data(job: Job, links: dict[str, str]) -> HypervideoJobData:
    """The native job as Hypervideo's job object; `links`: signed download URLs by output ID."""
    stage, progress = _progress(job)
    return HypervideoJobData(
        jobId=job.id,
        status=_status(job),
        progress=progress,
        stage=stage,
        createdAt=int(job.created_at.timestamp()),
        startedAt=_seconds(job.probed_at or job.started_at),
        completedAt=_seconds(job.completed_at),
        error=_error(job),
        result=_result(job, links) if job.status in (JobStatus.completed, JobStatus.partial) else None,
    )
