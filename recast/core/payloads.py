"""Workflow and activity payloads: `JobParams` (the workflow's input) and each activity's request and
result. Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from recast.core.background import RgbColor
from recast.core.captions import CaptionsReport, CaptionTrack
from recast.core.chunking import Chunking
from recast.core.formats import CONTENT_TYPES
from recast.core.job import (
    AudioInfo,
    InputInfo,
    InputMetadata,
    Job,
    JobInput,
    Output,
    OutputFile,
    TemplateRef,
)
from recast.core.quality import RungQuality
from recast.core.requests import Clip, Priority
from recast.core.specs import OutputSpec


class InputSource(BaseModel):
    """Where the input is: a remote URL to fetch, or an object already in storage (an upload)."""

    url: str | None = None
    storage_key: str | None = None
    filename: str | None = None
    size: int | None = None


class JobSettings(BaseModel):
    """Operational knobs fixed at submit time, so the workflow stays deterministic across replays."""

    heartbeat_timeout_s: float = 30.0
    stall_timeout_s: float = 60.0
    encode_attempts: int = 3
    url_ttl_s: int = 3600
    public_url: str = ""
    # On local-filesystem storage every worker reads the input in place, so probing is a short local
    # activity on the workflow's own worker (no server round trip); remote storage needs a download.
    local_storage: bool = False
    confirmation_timeout_s: float = 86400.0
    webhook_retry_s: float = 3600.0
    # RECAST_MAX_DURATION: each input is held to it at probe, a join's joined output here.
    max_duration_s: float = 4 * 3600.0
    # The upload step (store_output on the encoding worker's own queue): its attempts, and how long it
    # may wait for that worker to pick it up before the output is encoded again elsewhere.
    upload_attempts: int = 8
    upload_pickup_timeout_s: float = 60.0
    # `"chunking": "auto"` plans chunks only for outputs at least this long (RECAST_CHUNKING_MIN_DURATION):
    # a shorter one is encoded whole without even asking the fleet.
    chunking_min_duration_s: float = 30.0


class PlannedOutput(BaseModel):
    id: str
    spec: OutputSpec
    path: str | None = Field(
        default=None, description="Storage path under the organization's prefix, if templated."
    )


class Webhook(BaseModel):
    url: str
    secret: str | None = None


class JobParams(BaseModel):
    """The workflow's input: everything `TranscodeJob` needs, decided by whoever submits the job."""

    job_id: str
    organization: str
    source: InputSource = Field(description="The input; for a join, inputs[0].")
    inputs: list[InputSource] = Field(
        default_factory=list, description="A join's inputs in order (empty: just `source`)."
    )
    clip: Clip | None = None
    outputs: list[PlannedOutput]
    captions: list[CaptionTrack] = Field(
        default_factory=list, description="The job's caption files, for every video output."
    )
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    priority: Priority = Priority.standard
    delayed_start: bool = False
    idempotency_key: str | None = None
    webhook: Webhook | None = None
    settings: JobSettings = Field(default_factory=JobSettings)
    template: TemplateRef | None = None
    batch_id: str | None = None
    retry_of: str | None = Field(
        default=None, description="A retry run: the job whose failed outputs it makes again, at their keys."
    )
    attempt: int = 0
    chunking: Chunking = Chunking.auto
    chunk_duration: float | None = None
    compat: dict[str, str] = Field(
        default_factory=dict, description="The drop-in API's own fields (Job.compat), kept as given."
    )


def initial_job(params: JobParams) -> Job:
    """The Job as it stands the moment it is submitted (what `POST /v1/jobs` returns)."""
    return Job(
        id=params.job_id,
        organization=params.organization,
        input=InputInfo(url=params.source.url, filename=params.source.filename, size=params.source.size),
        inputs=[JobInput(url=s.url, filename=s.filename, size=s.size) for s in params.inputs],
        clip=params.clip,
        outputs=[
            Output(
                id=o.id,
                type=o.spec.type,
                preset=o.spec.preset,
                strategy=o.spec.strategy,
                video=o.spec.video,
                content_type=CONTENT_TYPES[o.spec.type],
                path=o.path,
            )
            for o in params.outputs
        ],
        metadata=params.metadata,
        priority=params.priority,
        delayed_start=params.delayed_start,
        idempotency_key=params.idempotency_key,
        webhook_url=params.webhook.url if params.webhook else None,
        created_at=params.created_at,
        updated_at=params.created_at,
        template=params.template,
        batch_id=params.batch_id,
        retry_of=params.retry_of,
        attempt=params.attempt,
        compat=params.compat,
    )


class FetchRequest(BaseModel):
    job_id: str
    organization: str
    source: InputSource
    folder: str | None = None  # a join's inputs each get their own, so equal file names cannot collide


class FetchResult(BaseModel):
    storage_key: str
    size: int


class InputPart(BaseModel):
    """One input of a join, as the encoder needs it."""

    key: str
    metadata: InputMetadata


class EncodeRequest(BaseModel):
    job_id: str
    organization: str
    output_id: str
    spec: OutputSpec
    input_key: str  # a join's first input
    input_metadata: InputMetadata  # a join's combined view (recast/core/timeline.py joined_metadata)
    stall_timeout_s: float
    path: str | None = None  # templated storage path under the organization's prefix
    parts: list[InputPart] = Field(
        default_factory=list, description="A join's inputs in order (empty: just input_key)."
    )
    clip: Clip | None = Field(default=None, description="Resolved: end set and within the input.")
    captions: list[CaptionTrack] = Field(
        default_factory=list, description="The job's caption files (fetched by the output activity)."
    )
    stage_upload: bool = Field(
        default=False,
        description="Leave the result in the worker's scratch for store_output instead of storing it "
        "(set by workflows with the upload step; a worker without an upload queue stores it anyway).",
    )


class StagedOutput(BaseModel):
    """An output made and checked, waiting in one worker's scratch to be stored (store_output)."""

    task_queue: str = Field(description="The worker's own task queue: the only one that has the files.")
    path: str = Field(description="The file, or the folder of a folder output, in that worker's scratch.")
    key: str = Field(description="The storage key of a file; the prefix (ending in `/`) of a folder.")
    folder: bool = False
    job_id: str
    output_id: str


class EncodeResult(BaseModel):
    storage_key: str
    file_size_bytes: int
    duration_ms: int
    width: int | None = None
    height: int | None = None
    audio: AudioInfo | None = None
    files: list[OutputFile] = Field(default_factory=list)  # folder outputs only
    entry: str | None = None  # folder outputs: the file a download points to
    captions: CaptionsReport | None = None
    staged: StagedOutput | None = None  # not stored yet: store_output on staged.task_queue stores it
    quality: list[RungQuality] = Field(default_factory=list)  # with `metrics`: per video variant
    strategy: str | None = None  # how it was made, when not the planned encode (`remux-mp4-h264`)
    background_color: RgbColor | None = None  # an output with `background`: the colour keyed out


class EncodeProgress(BaseModel):
    """Heartbeat details of an encode activity; the API reads them to report live progress."""

    output_id: str
    percent: float = 0.0
    stage: str = "encoding"


class SignRequest(BaseModel):
    organization: str
    job_id: str
    outputs: list[Output]
    ttl_s: int
    public_url: str


class DownloadFile(BaseModel):
    """A file of a folder output with its signed URL."""

    name: str
    url: str
    size: int
    content_type: str


class SignedUrl(BaseModel):
    output_id: str
    url: str
    expires_at: datetime
    files: list[DownloadFile] = Field(
        default_factory=list, description="Folder outputs: every file, each under the same token."
    )
