"""store_output: the upload step — store an output that an output activity made, checked and left in its
worker's scratch, retried on its own so that a failed upload never throws the encode away.

The files exist only on the worker that made them, so this activity runs on that worker's own task
queue (the worker-specific task queue pattern of Temporal's samples-python `activity_sticky_queues`):
the output activity returns the queue's name with its result, and the workflow schedules the upload
there. When the worker is gone, nobody picks the upload up; the workflow's short schedule-to-start
timeout then has the output encoded again elsewhere. On local (`fs://`) storage the upload is a rename.

`finish_file` / `finish_dir` are the output activities' last step: stage the result for this activity
when the workflow asked for the upload step and this worker runs it, or store it at once (as every
output was stored before the upload step, and still is for jobs that started before it).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.output_step import HEARTBEAT_EVERY_S
from activities.scratch import remove
from recast.core import contract
from recast.core.job import OutputFile
from recast.core.payloads import EncodeProgress, EncodeRequest, StagedOutput
from recast.infra.storage import describe_dir


async def finish_file(
    deps: Deps, req: EncodeRequest, path: Path, key: str
) -> tuple[int, StagedOutput | None]:
    """(size, staged) of a finished single-file output: staged for store_output, or stored now."""
    if req.stage_upload and deps.staging is not None:
        return _stage_file(deps, req, path, key)
    return await deps.storage.adopt_file(key, path), None


async def finish_dir(
    deps: Deps, req: EncodeRequest, folder: Path, prefix: str
) -> tuple[list[OutputFile], StagedOutput | None]:
    """(files, staged) of a finished folder output (a package, a thumbnail set), like finish_file."""
    if req.stage_upload and deps.staging is not None:
        files = await asyncio.to_thread(describe_dir, folder)
        kept = deps.staging.keep(folder, req.job_id, req.output_id)
        return files, _staged(deps, req, kept, prefix, folder=True)
    return await deps.storage.adopt_dir(prefix, folder), None


def _stage_file(deps: Deps, req: EncodeRequest, path: Path, key: str) -> tuple[int, StagedOutput]:
    assert deps.staging is not None
    size = path.stat().st_size
    kept = deps.staging.keep(path, req.job_id, req.output_id)
    return size, _staged(deps, req, kept, key, folder=False)


def _staged(deps: Deps, req: EncodeRequest, path: Path, key: str, folder: bool) -> StagedOutput:
    assert deps.staging is not None
    return StagedOutput(
        task_queue=deps.staging.task_queue,
        path=str(path),
        key=key,
        folder=folder,
        job_id=req.job_id,
        output_id=req.output_id,
    )


class StoreActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.STORE_OUTPUT)
    async def store_output(self, staged: StagedOutput) -> int:
        path = Path(staged.path)
        staging = self.deps.staging
        if staging is None or not staging.holds(path):
            # Not this worker's (a path from elsewhere), or already gone: only a new encode can help.
            raise ApplicationError(
                f"the output {staged.output_id} is not in this worker's scratch",
                type="staged-missing",
                non_retryable=True,
            )
        beat = asyncio.create_task(_heartbeat_loop(staged.output_id))
        try:
            if staged.folder:
                files = await self.deps.storage.adopt_dir(staged.key, path)
                size = sum(f.size for f in files)
            else:
                size = await self.deps.storage.adopt_file(staged.key, path)
        except Exception as exc:  # the store's own error (OpenDAL, OSError): retried by Temporal
            raise ApplicationError(f"storing the output failed: {exc}", type="upload-failed") from exc
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        remove(path.parent)
        return size


async def _heartbeat_loop(output_id: str) -> None:
    # A large upload takes a while; heartbeats tell a live upload from a worker that died mid-way.
    progress = EncodeProgress(output_id=output_id, percent=100.0, stage="uploading")
    while True:
        activity.heartbeat(progress.model_dump())
        await asyncio.sleep(HEARTBEAT_EVERY_S)
