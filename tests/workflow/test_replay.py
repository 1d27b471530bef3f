"""Jobs already running when a new worker is deployed replay their history against its code (some wait a
day for confirmation). tests/workflow/histories/ holds sets of recorded histories, one of each kind of
job — a single output; an HLS ladder, thumbnail strip, poster and mp4 of two joined inputs with a clip;
delayed start confirmed and timed out; cancel mid-encode; a partial failure; a failure at probe; webhook
retries; (from the upload step on) a job run as another workflow's child, and one with an animated gif
and webp, a waveform and a watermarked mp4:

- `*.json` at the top: recorded with the code before the layered restructure (commit 80a4713);
- `upload-step/`: recorded with the upload step (`workflow.patched("upload-as-own-step")`) by
  `scripts/record_histories.py`.

Replaying every one with today's TranscodeJob must raise no non-determinism error; a workflow change
that is not replay-safe fails here (checked below with one). How to change the workflow safely and
when to record a new set: docs/workflow-changes.md."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from recast.core.job import Job
from recast.core.payloads import JobParams
from workflows.transcode import TranscodeJob

ROOT = Path(__file__).parent / "histories"
HISTORIES = sorted(ROOT.rglob("*.json"))
KINDS = {
    "single_output",
    "ladder_thumbnails_image_join_clip",
    "delayed_start_confirmed",
    "delayed_start_timed_out",
    "cancel_mid_encode",
    "partial_failure",
    "failed_at_probe",
    "webhook_retries",
}


def name(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").as_posix()


def replay_failure(path: Path, workflow_class: type) -> Exception | None:
    history = WorkflowHistory.from_json(name(path), path.read_text())
    replayer = Replayer(workflows=[workflow_class], data_converter=pydantic_data_converter)
    result = asyncio.run(replayer.replay_workflow(history, raise_on_replay_failure=False))
    return result.replay_failure


def test_every_kind_of_job_has_a_recorded_history_in_every_set() -> None:
    sets = {p.parent for p in HISTORIES}
    assert {ROOT, ROOT / "upload-step"} <= sets
    for folder in sets:
        recorded = {p.stem for p in folder.glob("*.json")}
        # The first set predates child jobs' own handling and previews; every later set has them (the
        # upload-step set got its previews history when the gif, webp-animation and waveform types came).
        expected = KINDS if folder == ROOT else KINDS | {"child_job", "previews_waveform_watermark"}
        assert recorded >= expected, f"{folder.name}: missing {expected - recorded}"


@pytest.mark.parametrize("path", HISTORIES, ids=name)
def test_recorded_history_replays_on_current_code(path: Path) -> None:
    failure = replay_failure(path, TranscodeJob)
    assert failure is None, f"{name(path)}: {failure}"


@workflow.defn(name="TranscodeJob", sandboxed=False)
class UnguardedChange(TranscodeJob):
    """TranscodeJob with a change that is not gated by `workflow.patched`: a short timer before the job
    starts, as a well-meant "let the API settle" would add."""

    @workflow.run
    async def run(self, params: JobParams) -> Job:
        await workflow.sleep(timedelta(milliseconds=10))
        return await super().run(params)


@pytest.mark.parametrize("path", [p for p in HISTORIES if p.stem == "single_output"], ids=name)
def test_a_change_without_a_patch_fails_the_replay(path: Path) -> None:
    failure = replay_failure(path, UnguardedChange)
    assert failure is not None and "nondeterminism" in str(failure).lower(), failure
