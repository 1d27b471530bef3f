"""Hypervideo's shapes (docs/compat/hypervideo.md): its formats as native outputs, and a native Job as
its job object — statuses, stages and their progress ranges, result and outputs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.compat.hypervideo_request import job_error_code
from recast.core.background import RgbColor
from recast.core.formats import OutputType
from recast.core.job import Job, JobStatus, Output, OutputStatus, Stage

FORMAT_OF_TYPE = {OutputType.webm: "webm", OutputType.mp4: "stacked-alpha"}

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


class ApiErrorDetail(ErrorDetail):
    details: dict[str, str] | None = Field(default=None, description="`recastCode`: Recast's own code.")


class HypervideoError(BaseModel):
    success: Literal[False] = False
    error: ApiErrorDetail


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
        return ErrorDetail(code=job_error_code(code), message=f"{message} ({code})")
    if job.status is JobStatus.partial:
        failed: list[Output] = [o for o in job.outputs if o.status is not OutputStatus.completed]
        return ErrorDetail(
            code="PARTIAL",
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


class SyncOutput(BaseModel):
    format: str
    url: str = Field(description="A base64 data URL, or a signed URL for outputs too large to inline.")
    size: int | None


class SyncResult(BaseModel):
    """The synchronous endpoint's answer: the first format's output, and every output."""

    url: str
    format: str
    size: int | None
    width: int | None
    height: int | None
    duration: float = Field(description="Seconds.")
    frameCount: int
    fps: float
    processingTime: int = Field(description="Milliseconds.")
    processingMethod: Literal["chromakey"] = "chromakey"
    outputs: list[SyncOutput] | None = Field(
        default=None, description="Only when several formats were asked (absent otherwise)."
    )
    detectedBackgroundColor: RgbColor | None


class HypervideoSyncResult(BaseModel):
    success: Literal[True] = True
    data: SyncResult


def sync_result(job: Job, urls: dict[str, str]) -> SyncResult:
    """A completed job as the synchronous endpoint's answer; `urls`: each output's data or signed URL."""
    done = [o for o in job.outputs if o.status is OutputStatus.completed]
    first = done[0]
    variant = first.video[0] if first.video else None
    meta_fps = job.input_metadata.framerate if job.input_metadata else None
    fps = (
        variant.framerate
        if variant and variant.framerate and (meta_fps is None or variant.framerate < meta_fps)
        else meta_fps
    )
    duration = (first.duration_ms or 0) / 1000
    started = job.probed_at or job.started_at
    took = round((job.completed_at - started).total_seconds() * 1000) if job.completed_at and started else 0
    outputs = [
        SyncOutput(format=FORMAT_OF_TYPE.get(o.type, o.type.value), url=urls[o.id], size=o.file_size_bytes)
        for o in done
    ]
    return SyncResult(
        url=urls[first.id],
        format=outputs[0].format,
        size=first.file_size_bytes,
        width=first.width,
        height=_picture_height(first),
        duration=duration,
        frameCount=round(duration * (fps or 0)),
        fps=fps or 0,
        processingTime=took,
        outputs=outputs if len(job.outputs) > 1 else None,
        detectedBackgroundColor=next((o.background_color for o in done if o.background_color), None),
    )
