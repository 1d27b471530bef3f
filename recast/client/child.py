"""Run a Recast job as a child of your own Temporal workflow: the whole interface, in one import.

A Recast job is the workflow type `TranscodeJob` on Recast's task queue (`TASK_QUEUE`, or whatever
`RECAST_TASK_QUEUE` the Recast workers poll). Its input is a `JobParams`, its result the final `Job`
(status `completed`, `partial`, `failed` or `canceled`: the workflow completes with the Job rather
than failing). The child's workflow ID is the job ID, so the job is visible through the Recast API
like any other, to its organization's API keys. Cancelling the parent (or the child) cancels the job:
running encodes are stopped, finished outputs are kept, the others become `canceled`, and
`execute_child_workflow` returns that canceled Job (the parent decides whether to end cancelled).

Both sides must use the pydantic data converter
(`temporalio.contrib.pydantic.pydantic_data_converter`) on their clients: `child.connect()` makes such a
client from Temporal's own environment configuration (the `TEMPORAL_*` variables and TOML profiles the
`temporal` CLI reads), the same the Recast workers connect by:

    client = await child.connect()  # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, …
    async with Worker(client, task_queue="publishing", workflows=[PublishVideo]): ...

    from datetime import timedelta

    from temporalio import workflow

    with workflow.unsafe.imports_passed_through():
        from recast.client import child


    @workflow.defn
    class PublishVideo:
        @workflow.run
        async def run(self, url: str) -> child.Job:
            params = child.job_params(
                job_id="job_" + workflow.uuid4().hex[:20],
                organization="acme",
                input_url=url,
                outputs=[{"type": "mp4", "video": {"codec": "h264", "resolution": "720p"}}],
                created_at=workflow.now(),
            )
            job = await workflow.execute_child_workflow(
                child.WORKFLOW,
                params,
                id=params.job_id,
                task_queue=child.TASK_QUEUE,
                result_type=child.Job,
                priority=child.temporal_priority(params),
            )
            return job  # job.status, job.outputs[i].status / .width / .height / .path …

`job_params` is deterministic (no clock, no randomness: output IDs derive from the job ID), so it is
safe inside a workflow. This module imports only pydantic models, so it passes the workflow sandbox.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import Priority as TemporalPriority
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig

from recast.core.captions import CaptionTrack
from recast.core.contract import TASK_QUEUE_DEFAULT, WORKFLOW_TYPE
from recast.core.job import Job, JobStatus, OutputStatus
from recast.core.payloads import InputSource, JobParams, JobSettings, PlannedOutput
from recast.core.requests import Clip, JobCreate, Priority
from recast.core.specs import OutputSpec

__all__ = [
    "TASK_QUEUE",
    "WORKFLOW",
    "Job",
    "JobParams",
    "JobSettings",
    "JobStatus",
    "OutputSpec",
    "OutputStatus",
    "Priority",
    "connect",
    "job_params",
    "output_id",
    "temporal_priority",
]

WORKFLOW = WORKFLOW_TYPE
"""The workflow type to start as a child."""

TASK_QUEUE = TASK_QUEUE_DEFAULT
"""The task queue Recast workers poll by default (`RECAST_TASK_QUEUE` changes it)."""


def output_id(job_id: str, index: int) -> str:
    """The ID of the job's `index`-th output: `out_` + 12 hex digits of sha256("job_id:index")."""
    return "out_" + hashlib.sha256(f"{job_id}:{index}".encode()).hexdigest()[:12]


def job_params(
    *,
    job_id: str,
    organization: str,
    input_url: str | None = None,
    storage_key: str | None = None,
    inputs: Sequence[str] | None = None,
    clip: Clip | dict[str, float] | None = None,
    outputs: Sequence[OutputSpec | dict[str, Any]],
    created_at: datetime,
    metadata: dict[str, str] | None = None,
    priority: Priority | str = Priority.standard,
    settings: JobSettings | None = None,
    captions: Sequence[CaptionTrack | dict[str, Any]] = (),
) -> JobParams:
    """The `TranscodeJob` input for one job. Deterministic: call it inside your workflow.

    - `job_id`: also the child's workflow ID; must start with `job_` (the API only serves those),
      e.g. `"job_" + workflow.uuid4().hex[:20]`.
    - `organization`: the job is served by the API to this organization's keys only.
    - exactly one of `input_url` (http/https, fetched by a Recast worker), `storage_key` (an object
      already in Recast's storage) or `inputs` (1–10 URLs joined in order, as in `POST /v1/jobs`).
    - `clip`: `{"start": s, "end": s}`, every output made from that part (of the joined timeline).
    - `outputs`: `OutputSpec`s or their JSON form, as in `POST /v1/jobs`; validated the same way.
    - `created_at`: `workflow.now()`.
    - `captions`: caption files (`{"url", "language", "label"}`), as in `POST /v1/jobs`.
    - `settings`: timeouts and retries; the defaults match Recast's. Set `public_url` to the API's
      base URL to get signed `download_url`s in the result (the API's download route signs anyway).

    Raises `ValueError` (a pydantic `ValidationError` for bad outputs, URL or metadata).
    """
    if not job_id.startswith("job_") or len(job_id) <= len("job_"):
        raise ValueError(f"job_id must start with 'job_', got {job_id!r}")
    if not organization:
        raise ValueError("organization must not be empty")
    if sum(x is not None for x in (input_url, storage_key, inputs)) != 1:
        raise ValueError("give exactly one of input_url, storage_key and inputs")
    # The same checks as `POST /v1/jobs`: URL schemes, 1 to 10 valid outputs, clip, metadata, priority.
    req = JobCreate(
        input_url=input_url,
        inputs=list(inputs) if inputs is not None else None,
        clip=clip if clip is None or isinstance(clip, Clip) else Clip.model_validate(clip),
        outputs=[o if isinstance(o, OutputSpec) else OutputSpec.model_validate(o) for o in outputs],
        metadata=dict(metadata or {}),
        priority=Priority(priority),
        captions=[c if isinstance(c, CaptionTrack) else CaptionTrack.model_validate(c) for c in captions],
    )
    sources = [InputSource(url=url) for url in req.inputs or []]
    return JobParams(
        job_id=job_id,
        organization=organization,
        source=sources[0] if sources else InputSource(url=input_url, storage_key=storage_key),
        inputs=sources,
        clip=req.clip,
        outputs=[PlannedOutput(id=output_id(job_id, i), spec=s) for i, s in enumerate(req.outputs)],
        metadata=req.metadata,
        created_at=created_at,
        priority=req.priority,
        settings=settings or JobSettings(),
        captions=req.captions,
    )


def temporal_priority(params: JobParams) -> TemporalPriority:
    """The Temporal priority the API starts a job with (premium 1, standard 3, economy 5); pass it as
    `priority=` to `execute_child_workflow` so the child's workflow tasks are ordered like its encodes."""
    return TemporalPriority(priority_key=params.priority.temporal_key)


async def connect(
    profile: str | None = None, *, env: Mapping[str, str] | None = None, **options: Any
) -> Client:
    """A Temporal client for your side of the child workflow: configured by Temporal's environment
    configuration (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, or
    `profile` / `TEMPORAL_PROFILE` of the TOML config file; `env` instead of this process's environment;
    blank variables count as unset), with the pydantic data converter Recast's payloads need. `options` go
    to `Client.connect` as they are. Not for use inside a workflow.

    Raises `ConnectionError` naming the address, namespace and TLS settings when Temporal cannot be reached.
    """
    source = os.environ if env is None else env
    env_vars = {k: v for k, v in source.items() if v.strip() or not k.startswith("TEMPORAL_")}
    config: dict[str, Any] = dict(
        ClientConfig.load_client_connect_config(profile, override_env_vars=env_vars)
    )
    config.setdefault("target_host", "localhost:7233")
    config.update(options)
    try:
        return await Client.connect(**config, data_converter=pydantic_data_converter)
    except RuntimeError as exc:
        tls = config.get("tls")
        described = (
            f"namespace {config.get('namespace', 'default')}; "
            + ("TLS" if tls else "plaintext (no TLS)")
            + ("; client certificate set" if getattr(tls, "client_cert", None) else "; no client certificate")
            + ("; API key set" if config.get("api_key") else "; no API key")
        )
        raise ConnectionError(
            f"cannot connect to Temporal at {config['target_host']} ({described}): {exc}"
        ) from exc
