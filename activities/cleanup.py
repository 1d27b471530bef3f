"""cleanup_storage: delete expired files — finished jobs' folders, uploads, files under templated output
paths — never what a job still needs.

Storage is listed first (OpenDAL: list with each object's last-modified time), and only what is old enough
by that listing is judged further, so a run over a store of fresh files asks Temporal nothing:

- `{org}/jobs/{job_id}/` (input copy and default outputs) goes when its job has ended more than
  RECAST_OUTPUT_TTL ago (`outputs_expire_at`, the time the API shows), read with one describe; a job
  Temporal no longer knows (past RECAST_JOB_RETENTION) goes by the folder's newest file instead.
- `{org}/uploads/{upload_id}/` goes once the upload has expired (`upload_expires_at`).
- `{org}/outputs/{path}` (templated paths, which name no job) goes file by file by its own age, unless
  a running job, or one that ended within the TTL, has an output there.

Running jobs are found in Temporal visibility (their Job is in the memo): their job folders, output paths
and the uploads they read are kept whatever their age. Anything else in the store (other prefixes, other
tools' objects) is never touched. Written here rather than left to S3 lifecycle rules because those know
neither running jobs nor fs storage; docs/operations.md shows the rules for those who prefer them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.deps import Deps
from recast.core import contract
from recast.core.job import Job
from recast.core.lifecycle import CleanupParams, CleanupReport, outputs_expire_at
from recast.core.payloads import JobParams, initial_job
from recast.infra import uploads
from recast.infra.storage import Storage

log = logging.getLogger("recast.cleanup")
HEARTBEAT_EVERY = 500  # objects listed or deleted between heartbeats


@dataclass
class Unit:
    """What is deleted as one: a job's folder, an upload's folder, or one file under `outputs/`."""

    kind: str  # "job", "upload" or "output"
    key: str  # the folder's prefix (ending with `/`), or the file's key
    org: str
    ident: str  # the job ID, the upload ID, or the path under `{org}/outputs/`
    newest: datetime
    objects: int = 0
    size: int = 0


def classify(path: str) -> tuple[str, str, str, str] | None:
    """(kind, key, org, ident) of a stored object's unit, or None for anything Recast did not write."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "jobs" and parts[2].startswith("job_"):
        return "job", "/".join(parts[:3]) + "/", parts[0], parts[2]
    if len(parts) >= 4 and parts[1] == "uploads" and parts[2]:
        return "upload", "/".join(parts[:3]) + "/", parts[0], parts[2]
    if len(parts) >= 3 and parts[1] == "outputs" and parts[2]:
        return "output", path, parts[0], "/".join(parts[2:])
    return None


@dataclass
class InUse:
    """What jobs still need: running jobs' folders and uploads, and output paths of jobs not yet expired."""

    jobs: set[str] = field(default_factory=set)
    uploads: set[tuple[str, str]] = field(default_factory=set)
    paths: set[tuple[str, str]] = field(default_factory=set)

    def add(self, job: Job, running: bool) -> None:
        if running:
            self.jobs.add(job.id)
            for url in [job.input.url, *(i.url for i in job.inputs)]:
                if url and url.startswith(uploads.UPLOAD_SCHEME):
                    self.uploads.add((job.organization, url[len(uploads.UPLOAD_SCHEME) :]))
        for out in job.outputs:
            if out.path:
                self.paths.add((job.organization, out.path.rstrip("/")))

    def has_path(self, unit: Unit) -> bool:
        return any(
            org == unit.org and (unit.ident == path or unit.ident.startswith(path + "/"))
            for org, path in self.paths
        )


class CleanupActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.CLEANUP_STORAGE)
    async def cleanup_storage(self, params: CleanupParams) -> CleanupReport:
        if params.output_ttl_s <= 0:
            return CleanupReport()
        sweep = Sweep(self.deps.storage, activity.client(), params.output_ttl_s)
        report = await sweep.run()
        log.info("cleanup: %s", report.model_dump_json())
        return report


class Sweep:
    """One cleanup pass over one store."""

    def __init__(self, storage: Storage, client: Client, ttl_s: int) -> None:
        self.storage, self.client, self.ttl_s = storage, client, ttl_s
        self.now = datetime.now(UTC)
        self.cutoff = self.now - timedelta(seconds=ttl_s)
        self.report = CleanupReport()

    async def run(self) -> CleanupReport:
        due = [u for u in (await self.scan()).values() if await self.old_enough(u)]
        if not due:
            return self.report
        # Asked after the listing: a job that starts meanwhile and is missed here wrote nothing old, and
        # the API refuses an expired upload to new jobs.
        in_use = InUse()
        async for job in self.jobs("ExecutionStatus = 'Running'"):
            in_use.add(job, running=True)
        if any(u.kind == "output" for u in due):
            # Jobs that may have written a file before the cutoff and ended after it (not yet expired).
            query = f"ExecutionStatus != 'Running' AND StartTime < '{_rfc3339(self.cutoff)}' AND CloseTime > '{_rfc3339(self.cutoff)}'"
            async for job in self.jobs(query):
                expires = outputs_expire_at(job, self.ttl_s)
                if expires is None or expires > self.now:
                    in_use.add(job, running=False)
        for n, unit in enumerate(due, 1):
            if await self.needed(unit, in_use):
                self.report.kept_in_use += 1
            else:
                await self.delete(unit)
            if n % HEARTBEAT_EVERY == 0:
                activity.heartbeat(n)
        return self.report

    async def scan(self) -> dict[str, Unit]:
        """Every object Recast wrote, grouped into units, each with its newest modification time."""
        units: dict[str, Unit] = {}
        async for entry in await self.storage.op.list("", recursive=True):
            path = entry.path
            if path.endswith("/"):
                continue
            found = classify(path)
            if found is None:
                continue
            kind, key, org, ident = found
            meta = entry.metadata
            modified = meta.last_modified or (await self.storage.op.stat(path)).last_modified or self.now
            unit = units.setdefault(key, Unit(kind, key, org, ident, modified))
            unit.newest = max(unit.newest, modified)
            unit.objects += 1
            unit.size += int(meta.content_length or 0)
            self.report.objects_seen += 1
            if self.report.objects_seen % HEARTBEAT_EVERY == 0:
                activity.heartbeat(self.report.objects_seen)
        return units

    async def old_enough(self, unit: Unit) -> bool:
        """Whether a unit may have expired by storage alone (no Temporal call): nothing in it written
        within the TTL, and an upload past its own expiry too."""
        if unit.newest > self.cutoff:
            return False
        if unit.kind == "upload":
            manifest = await uploads.load_manifest(self.storage, unit.org, unit.ident)
            if manifest is not None:
                expires = uploads.upload_expires_at(manifest, self.ttl_s)
                return expires is not None and expires <= self.now
        return True

    async def needed(self, unit: Unit, in_use: InUse) -> bool:
        if unit.kind == "upload":
            return (unit.org, unit.ident) in in_use.uploads
        if unit.kind == "output":
            return in_use.has_path(unit)
        if unit.ident in in_use.jobs:
            return True
        # The job's own end decides, as the API shows it; a job Temporal has forgotten went by its files.
        try:
            desc = await self.client.get_workflow_handle(unit.ident).describe()
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return False
            raise
        if desc.status == WorkflowExecutionStatus.RUNNING:
            return True
        job: Job | None = await desc.memo_value(contract.JOB_MEMO, None, type_hint=Job)
        expires = outputs_expire_at(job, self.ttl_s) if job is not None else None
        return expires is not None and expires > self.now

    async def delete(self, unit: Unit) -> None:
        if unit.key.endswith("/"):
            await self.storage.op.remove_all(unit.key)
        else:
            await self.storage.op.delete(unit.key)
        setattr(self.report, f"{unit.kind}s_deleted", getattr(self.report, f"{unit.kind}s_deleted") + 1)
        self.report.objects_deleted += unit.objects
        self.report.bytes_deleted += unit.size

    async def jobs(self, condition: str) -> AsyncIterator[Job]:
        """The Jobs of TranscodeJob workflows matching a visibility condition, from their memos (or the
        start event, for a child job no worker has picked up yet)."""
        query = f"WorkflowType = '{contract.WORKFLOW_TYPE}' AND {condition}"
        async for execution in self.client.list_workflows(query):
            job: Job | None = await execution.memo_value(contract.JOB_MEMO, None, type_hint=Job)
            if job is None:
                job = await self._from_start(execution.id)
            if job is not None:
                yield job

    async def _from_start(self, workflow_id: str) -> Job | None:
        async for event in self.client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [params] = await self.client.data_converter.decode(payloads, [JobParams])
                return initial_job(params)
        return None


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
