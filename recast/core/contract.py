"""The Temporal contract: every name the API, the worker, the workflow and other workflows (child jobs)
must agree on, defined once. Changing a value here breaks running workflows and their histories (an
activity or handler is looked up by name on replay), so the values stay as they are.

Activities are *declared* here as typed stubs (`@activity.defn(name=...)` on a function with the
request and result types) and implemented in `activities/` under the same names. This is the idiom the
SDK really supports for calling an activity by reference without importing its implementation:
`workflow.execute_activity(encode_output, req, ...)` (and `execute_local_activity`) read the name and
the result type from the callable's activity definition, and mypy checks the argument against the
declared parameter. A `typing.Protocol` would not do: the SDK only accepts a string or a callable that
carries an activity definition. `execute_activity_method` would need the implementing class, whose
module imports ffmpeg, storage and settings — nothing a workflow may import. The stubs are never
registered with a worker; tests/unit/test_contract.py checks every registered activity against them.

Only temporalio, pydantic and recast.core: importable inside the workflow sandbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn

from temporalio import activity
from temporalio.common import SearchAttributeKey

from recast.core.chunk_payloads import (
    ChunkPlan,
    ChunkPlanRequest,
    ChunkRequest,
    ChunkResult,
    StitchRequest,
    StitchResult,
)
from recast.core.job import InputMetadata
from recast.core.lifecycle import CleanupParams, CleanupReport
from recast.core.payloads import (
    EncodeRequest,
    EncodeResult,
    FetchRequest,
    FetchResult,
    JobParams,
    SignedUrl,
    SignRequest,
    StagedOutput,
)
from recast.core.webhooks import WebhookDelivery

# ---------------------------------------------------------------- the workflow ------------------------------

WORKFLOW_TYPE = "TranscodeJob"
"""The workflow type of a job: one workflow per job, its ID the job ID."""

TASK_QUEUE_DEFAULT = "recast"
"""The task queue Recast's workflow and activities run on unless RECAST_TASK_QUEUE names another (a
parent workflow in another project names it too: `recast.client.child`)."""

REDELIVERY_WORKFLOW_TYPE = "WebhookRedelivery"
"""A short workflow that sends one webhook delivery again (`POST …/webhooks/{id}/redeliver`), for a
running or a finished job alike: it runs `deliver_webhook`, retried like the first delivery."""

JOB_MEMO = "job"
"""The memo key under which the workflow publishes its Job (read by the API with one `describe`)."""

QUERY_JOB = "job"
"""Query: the Job as the workflow holds it."""

UPDATE_CANCEL = "cancel"
"""Update: stop the job; running outputs are cancelled, finished ones kept. Returns the Job."""

UPDATE_CONFIRM = "confirm"
"""Update: let a `delayed_start` job go on from `awaiting_confirmation`. Returns the Job."""

CLEANUP_WORKFLOW_TYPE = "RecastCleanup"
"""The workflow type of a cleanup run: started by the `<task queue>-cleanup` Schedule
(`recast.core.lifecycle.cleanup_schedule_id`), it deletes expired files on the same task queue."""

# The workflow takes no signals: cancel and confirm are updates, so the caller learns the outcome.

BATCH_WORKFLOW_TYPE = "BatchJob"
"""The workflow type of a batch: one per batch, its ID the batch ID, its jobs its child workflows."""

BATCH_MEMO = "batch"
"""The memo key under which a BatchJob publishes its Batch."""

QUERY_BATCH = "batch"
"""Query: the Batch as its workflow holds it. Its cancel is the `cancel` update (UPDATE_CANCEL)."""

# ---------------------------------------------------------------- activities --------------------------------

FETCH_INPUT = "fetch_input"
PROBE_INPUT = "probe_input"
ENCODE_OUTPUT = "encode_output"
PACKAGE_STREAM = "package_stream"
ENCODE_IMAGE = "encode_image"
MAKE_THUMBNAILS = "make_thumbnails"
MAKE_ANIMATION = "make_animation"
MAKE_WAVEFORM = "make_waveform"
SIGN_DOWNLOADS = "sign_downloads"
DELIVER_WEBHOOK = "deliver_webhook"
LOAD_BATCH_PAGE = "load_batch_page"
STORE_OUTPUT = "store_output"
CLEANUP_STORAGE = "cleanup_storage"
PLAN_CHUNKS = "plan_chunks"
ENCODE_CHUNK = "encode_chunk"
STITCH_CHUNKS = "stitch_chunks"
REMOVE_CHUNKS = "remove_chunks"


def _declared_only() -> NoReturn:
    raise NotImplementedError("a contract declaration: the worker runs the implementation in activities/")


@activity.defn(name=FETCH_INPUT)
async def fetch_input(req: FetchRequest) -> FetchResult:
    """Stream a remote input into storage."""
    _declared_only()


@activity.defn(name=PROBE_INPUT)
async def probe_input(storage_key: str) -> InputMetadata:
    """Probe a stored input (and check that it decodes and is within the limits)."""
    _declared_only()


@activity.defn(name=ENCODE_OUTPUT)
async def encode_output(req: EncodeRequest) -> EncodeResult:
    """One video or audio rendition (mp4, webm, mp3, …), encoded, checked and stored."""
    _declared_only()


@activity.defn(name=PACKAGE_STREAM)
async def package_stream(req: EncodeRequest) -> EncodeResult:
    """An hls or dash output: the whole ladder in one ffmpeg run, stored as a folder."""
    _declared_only()


@activity.defn(name=ENCODE_IMAGE)
async def encode_image(req: EncodeRequest) -> EncodeResult:
    """One still image: the image input optimized, or a poster frame of a video."""
    _declared_only()


@activity.defn(name=MAKE_THUMBNAILS)
async def make_thumbnails(req: EncodeRequest) -> EncodeResult:
    """A folder of thumbnails (and a sprite sheet with its WebVTT index)."""
    _declared_only()


@activity.defn(name=MAKE_ANIMATION)
async def make_animation(req: EncodeRequest) -> EncodeResult:
    """An animated preview: a gif (palette pass) or an animated webp of a clip of the input."""
    _declared_only()


@activity.defn(name=MAKE_WAVEFORM)
async def make_waveform(req: EncodeRequest) -> EncodeResult:
    """A folder with a PNG of the audio's waveform and a JSON of its peaks."""
    _declared_only()


@activity.defn(name=SIGN_DOWNLOADS)
async def sign_downloads(req: SignRequest) -> list[SignedUrl]:
    """Signed, expiring download URLs for finished outputs."""
    _declared_only()


@activity.defn(name=DELIVER_WEBHOOK)
async def deliver_webhook(delivery: WebhookDelivery) -> int:
    """POST one signed webhook event; returns the receiver's 2xx status."""
    _declared_only()


@activity.defn(name=LOAD_BATCH_PAGE)
async def load_batch_page(key: str) -> list[JobParams]:
    """One stored page of a batch's jobs (what each child workflow starts with)."""
    _declared_only()


@activity.defn(name=STORE_OUTPUT)
async def store_output(staged: StagedOutput) -> int:
    """Store an output an output activity left in its worker's scratch; returns the bytes stored. Runs
    on that worker's own task queue (`StagedOutput.task_queue`), the only place the files are."""
    _declared_only()


@activity.defn(name=CLEANUP_STORAGE)
async def cleanup_storage(params: CleanupParams) -> CleanupReport:
    """Delete expired job folders, uploads and templated outputs, skipping what running jobs use."""
    _declared_only()


@activity.defn(name=PLAN_CHUNKS)
async def plan_chunks(req: ChunkPlanRequest) -> ChunkPlan:
    """Decide whether (and where) to cut a video output into chunks: the frame ranges, or why not."""
    _declared_only()


@activity.defn(name=ENCODE_CHUNK)
async def encode_chunk(req: ChunkRequest) -> ChunkResult:
    """Encode one chunk's frames (video only) and put it in storage; runs on `{task queue}-chunks`."""
    _declared_only()


@activity.defn(name=STITCH_CHUNKS)
async def stitch_chunks(req: StitchRequest) -> StitchResult:
    """Concatenate the chunks by stream copy, mux the audio encoded once, verify, stage for upload."""
    _declared_only()


@activity.defn(name=REMOVE_CHUNKS)
async def remove_chunks(prefix: str) -> int:
    """Delete an output's temporary chunks from storage; returns how many objects were removed."""
    _declared_only()


OutputActivity = Callable[[EncodeRequest], Awaitable[EncodeResult]]
"""An activity that makes one output: all take an EncodeRequest and return an EncodeResult, and
heartbeat an `EncodeProgress` (the API shows it as the output's live progress)."""

OUTPUT_ACTIVITIES: dict[str, OutputActivity] = {
    ENCODE_OUTPUT: encode_output,
    PACKAGE_STREAM: package_stream,
    ENCODE_IMAGE: encode_image,
    MAKE_THUMBNAILS: make_thumbnails,
    MAKE_ANIMATION: make_animation,
    MAKE_WAVEFORM: make_waveform,
}
"""Every output activity by name."""

ACTIVITIES: dict[str, Callable[..., Awaitable[object]]] = {
    FETCH_INPUT: fetch_input,
    PROBE_INPUT: probe_input,
    **OUTPUT_ACTIVITIES,
    SIGN_DOWNLOADS: sign_downloads,
    DELIVER_WEBHOOK: deliver_webhook,
    STORE_OUTPUT: store_output,
    LOAD_BATCH_PAGE: load_batch_page,
    CLEANUP_STORAGE: cleanup_storage,
    PLAN_CHUNKS: plan_chunks,
    ENCODE_CHUNK: encode_chunk,
    STITCH_CHUNKS: stitch_chunks,
    REMOVE_CHUNKS: remove_chunks,
}
"""Every activity the workflows (TranscodeJob, BatchJob, RecastCleanup) call, by name: what a worker must register
(store_output on its own worker-specific task queue, the others on the shared one)."""

UPLOAD_STEP_PATCH = "upload-as-own-step"
"""`workflow.patched` ID of the upload step: jobs that reached their encodes before it was deployed
replay the encode-and-store-in-one-activity path (docs/workflow-changes.md)."""

CHUNKED_ENCODE_PATCH = "chunked-encode"
"""`workflow.patched` ID of split-and-stitch encoding (workflows/chunked.py): jobs that reached their
encodes before it replay the whole-output path."""
CHUNKED_LADDER_PATCH = "chunked-ladder"
"""`workflow.patched` ID of split-and-stitch for hls/dash ladders (workflows/chunked.py `applies`): jobs
that reached a ladder's encode before it replay the whole-ladder path."""

# ---------------------------------------------------------------- search attributes -------------------------
# Set at start by the API, upserted by the workflow (so a job started as another workflow's child has
# them too), filtered on by `GET /v1/jobs` and in the Temporal Web UI. List queries name them by
# `KEY.name`.

STATUS_KEY = SearchAttributeKey.for_keyword("RecastStatus")
ORGANIZATION_KEY = SearchAttributeKey.for_keyword("RecastOrganization")
PRIORITY_KEY = SearchAttributeKey.for_keyword("RecastPriority")
CREATED_AT_KEY = SearchAttributeKey.for_datetime("RecastCreatedAt")
# A batch's jobs carry its ID (GET /v1/batches/{id} lists them); a retry run carries the job it retries
# (job listings leave retry runs out: the job itself shows them in `attempts`).
BATCH_KEY = SearchAttributeKey.for_keyword("RecastBatch")
RETRY_OF_KEY = SearchAttributeKey.for_keyword("RecastRetryOf")

# name → the type the dev server's `--search-attribute` flag and the operator API call it
SEARCH_ATTRIBUTES = {
    STATUS_KEY.name: "Keyword",
    ORGANIZATION_KEY.name: "Keyword",
    PRIORITY_KEY.name: "Keyword",
    CREATED_AT_KEY.name: "Datetime",
    BATCH_KEY.name: "Keyword",
    RETRY_OF_KEY.name: "Keyword",
}
