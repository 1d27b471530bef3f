"""The Job as clients see it: status, stage, progress, outputs and their reports. The workflow's state
and result, the API's response body. Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from recast.core.background import RgbColor
from recast.core.captions import CaptionsReport
from recast.core.formats import STREAM_ENTRY, InputKind, OutputType
from recast.core.loudness import LoudnessReport
from recast.core.quality import RungQuality
from recast.core.requests import Clip, Priority
from recast.core.specs import VideoVariant, size_label


class JobStatus(StrEnum):
    pending = "pending"
    probing = "probing"
    awaiting_confirmation = "awaiting_confirmation"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    partial = "partial"
    canceled = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.completed, JobStatus.failed, JobStatus.partial, JobStatus.canceled)


class OutputStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    canceled = "canceled"


class Stage(StrEnum):
    """Where a job is; each stage owns a fixed slice of `progress` so it never goes backwards."""

    queued = "queued"
    fetching = "fetching"
    probing = "probing"
    awaiting_confirmation = "awaiting_confirmation"
    encoding = "encoding"
    uploading = "uploading"
    finalizing = "finalizing"
    done = "done"


# stage → (progress at start, progress at end)
STAGE_PROGRESS: dict[Stage, tuple[int, int]] = {
    Stage.queued: (0, 0),
    Stage.fetching: (0, 10),
    Stage.probing: (10, 15),
    Stage.awaiting_confirmation: (15, 15),
    Stage.encoding: (15, 95),
    # Every output encoded, some still being stored: encoded outputs count as 99 % done.
    Stage.uploading: (94, 95),
    Stage.finalizing: (95, 100),
    Stage.done: (100, 100),
}


def encoding_progress(outputs: list[Output]) -> int:
    """Job progress while encoding: the encoding slice, filled by the mean of the outputs' progress."""
    lo, hi = STAGE_PROGRESS[Stage.encoding]
    return lo + round((hi - lo) * sum(o.progress for o in outputs) / (100 * max(1, len(outputs))))


class InputInfo(BaseModel):
    url: str | None = None
    filename: str | None = None
    size: int | None = None


class InputMetadata(BaseModel):
    kind: InputKind = Field(
        default=InputKind.video, description="video, audio (no video stream) or image (a still picture)."
    )
    duration_ms: int = Field(description="0 for a still image.")
    width: int | None = Field(default=None, description="As displayed: after rotation and EXIF orientation.")
    height: int | None = None
    orientation: int | None = Field(
        default=None,
        ge=2,
        le=8,
        description="EXIF orientation of an image input (2–8) when it is not upright; outputs are upright.",
    )
    codec: str | None = None
    bitrate_kbps: int | None = None
    framerate: float | None = None
    audio_codec: str | None = None
    file_size_bytes: int


class JobInput(BaseModel):
    """One of a join's inputs, in order: where it came from and, after probing, what it is."""

    url: str | None = None
    filename: str | None = None
    size: int | None = None
    metadata: InputMetadata | None = None


class AudioInfo(BaseModel):
    codec: str
    bitrate_kbps: int | None = None
    channels: int | None = None
    sample_rate: int | None = None
    loudness: LoudnessReport | None = Field(
        default=None, description="With audio.loudness: the input's and the output's measured loudness."
    )


class OutputFile(BaseModel):
    """One file of a folder output (an HLS/DASH package, a thumbnail set)."""

    name: str = Field(description="Path inside the output's folder, e.g. `720p/segment_00001.m4s`.")
    size: int
    content_type: str


class Output(BaseModel):
    id: str
    type: OutputType
    preset: str | None = Field(default=None, description="The preset this output was made from, if any.")
    strategy: str | None = Field(
        default=None,
        description="What is made, e.g. `video-webm-vp9`, `video-mp4-h264`, `audio-mp3`; once made, "
        "`remux-mp4-h264` when the input's streams were copied into the new container, not encoded.",
    )
    status: OutputStatus = OutputStatus.pending
    progress: int = 0
    video: list[VideoVariant] = Field(default_factory=list, description="Empty for audio-only outputs.")
    audio: AudioInfo | None = None
    captions: CaptionsReport | None = Field(
        default=None, description="With job captions: the caption tracks this output carries, or burned in."
    )
    file_size_bytes: int | None = None
    # The optimization report, in the names image/video optimization APIs use: in and out side by side.
    input_bytes: int | None = Field(default=None, description="The input's size (a join: the sum).")
    output_bytes: int | None = Field(
        default=None, description="The output's size: the same figure as file_size_bytes."
    )
    input_duration_ms: int | None = Field(default=None, description="The input's duration (a join: the sum).")
    input_width: int | None = Field(default=None, description="The input's width (a join: the joined frame).")
    saved_bytes: int | None = Field(
        default=None,
        description="input_metadata.file_size_bytes − file_size_bytes: negative when the output is larger.",
    )
    saved_percent: float | None = Field(
        default=None, description="saved_bytes as a percentage of the input's size (one decimal)."
    )
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None
    filename: str | None = Field(
        default=None, description="Download name; for a folder output, its entry file (playlist, MPD, VTT)."
    )
    content_type: str | None = None
    files: list[OutputFile] = Field(
        default_factory=list,
        description="Every file of a folder output (hls, dash, thumbnails); empty for single-file outputs.",
    )
    download_url: str | None = Field(
        default=None, description="Signed URL valid until download_expires_at; the download route signs anew."
    )
    download_expires_at: datetime | None = None
    path: str | None = Field(
        default=None, description="Where the output is stored, under the organization's prefix."
    )
    quality: list[RungQuality] = Field(
        default_factory=list,
        description="With `metrics`: the measured quality of each video variant (per rung for hls/dash), "
        "in the order of `video`.",
    )
    background_color: RgbColor | None = Field(
        default=None,
        description="With `background`: the colour keyed out (detected, or as given), once completed.",
    )
    error_code: str | None = None
    error_message: str | None = None
    chunks: int | None = Field(
        default=None,
        description="Video outputs, once made: how many chunks it was encoded as and stitched from (1: whole).",
    )
    stitch_duration_ms: int | None = Field(
        default=None, description="A chunked output: the stitch (concatenation and audio mux) in ms."
    )


class Execution(BaseModel):
    """Milliseconds spent in each phase (null until the phase has run)."""

    queue_duration_ms: int | None = None
    fetch_duration_ms: int | None = None
    probe_duration_ms: int | None = None
    confirmation_wait_ms: int | None = None
    encode_duration_ms: int | None = None
    finalize_duration_ms: int | None = None
    stitch_duration_ms: int | None = Field(
        default=None, description="Chunked outputs: the time their stitches took, summed."
    )
    total_duration_ms: int | None = None


class Attempt(BaseModel):
    """One run of a job: the first (attempt 0, the job itself) or a retry of its failed outputs."""

    attempt: int = Field(description="0 for the job's first run, then 1, 2, … for each retry.")
    job_id: str = Field(description="The run's own ID: the job's, or `{job_id}-r{n}` for retry n.")
    status: JobStatus
    outputs: list[str] = Field(description="IDs of the outputs this run made (a retry: the retried ones).")
    created_at: datetime
    completed_at: datetime | None = None


class TemplateRef(BaseModel):
    """The template (and its version) a job was made from."""

    name: str
    version: int


class Job(BaseModel):
    id: str
    organization: str
    status: JobStatus = JobStatus.pending
    progress: int = 0
    stage: Stage = Stage.queued
    input: InputInfo = Field(description="The input; for a join, the first of `inputs`.")
    input_metadata: InputMetadata | None = Field(
        default=None,
        description="After probing. For a join, the joined timeline: duration and file size the sums, "
        "width/height the largest input's, framerate the joined rate, codecs the first input's that has one.",
    )
    inputs: list[JobInput] = Field(
        default_factory=list, description="With `inputs`: each input, in order, with its own metadata."
    )
    clip: Clip | None = Field(
        default=None, description="As asked; after probing, its end is clamped to the input's duration."
    )
    outputs: list[Output]
    error_code: str | None = None
    error_message: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    priority: Priority = Priority.standard
    delayed_start: bool = False
    idempotency_key: str | None = None
    webhook_url: str | None = None
    total_estimated_cost: float | None = Field(
        default=None, description="Set after probing (price table in docs/outputs.md, Cost)."
    )
    total_actual_cost: float | None = Field(
        default=None, description="Set when the job ends, from what was encoded."
    )
    currency: str = "USD"
    created_at: datetime
    updated_at: datetime
    probed_at: datetime | None = None
    confirmed_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    outputs_expire_at: datetime | None = Field(
        default=None,
        description="When this finished job's files (outputs and input copy) are deleted: `completed_at` + "
        "RECAST_OUTPUT_TTL. Null while the job runs, or when files are kept forever (TTL 0).",
    )
    outputs_expired: bool = Field(
        default=False,
        description="True once `outputs_expire_at` has passed: the files are (being) deleted and downloads "
        "answer 410 `expired`.",
    )
    execution: Execution = Field(default_factory=Execution)
    template: TemplateRef | None = Field(default=None, description="The template the job was made from.")
    batch_id: str | None = Field(default=None, description="The batch the job belongs to.")
    retry_of: str | None = Field(
        default=None, description="On a retry run (`{job_id}-r{n}`): the job it retries."
    )
    attempt: int = Field(default=0, description="0 for a job's first run, n for its retry n.")
    attempts: list[Attempt] = Field(
        default_factory=list,
        description="On a retried job: every run, first to last; outputs show the latest run's result.",
    )
    compat: dict[str, str] = Field(
        default_factory=dict,
        description="Set on jobs submitted through a drop-in API (api/compat/): which one (`api`) and the "
        "fields of its request the native Job has no place for. Empty for native jobs.",
    )


def savings(input_bytes: int, output_bytes: int) -> tuple[int, float | None]:
    """(saved_bytes, saved_percent) of an output against its input; negative when the output is larger."""
    saved = input_bytes - output_bytes
    return saved, round(100 * saved / input_bytes, 1) if input_bytes > 0 else None


def output_filename(stem: str, out: Output) -> str:
    """The download name of an output: the input's name, the rendition, the container. A streaming
    package's is its manifest, the file its download URL points to."""
    if out.type in STREAM_ENTRY:
        return STREAM_ENTRY[out.type]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:80] or "output"
    if out.type in (OutputType.thumbnails, OutputType.waveform):
        return f"{safe}-{out.type.value}"  # a folder: the download points at its entry file once it is made
    if out.type.is_image or out.type is OutputType.gif:
        return f"{safe}.{out.type.value}"
    if not out.video:
        return f"{safe}-audio.{out.type.value}"
    v = out.video[0]
    return f"{safe}-{size_label(v)}-{v.codec.value}.{out.type.value}"
