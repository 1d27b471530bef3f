"""Jobs already running when a new worker is deployed replay their history against its code (some wait a
day for confirmation). These histories were recorded with the code before the layered restructure
(commit 80a4713): one of each kind of job — a single output; an HLS ladder, thumbnail strip, poster and
mp4 of two joined inputs with a clip; delayed start confirmed and timed out; cancel mid-encode; a
partial failure; a failure at probe; webhook retries. Later ones, recorded when the feature came: a
retry run of a failed output (`retry_run`), a batch of three jobs and a cancelled batch (BatchJob).
Replaying them with today's workflows must raise no non-determinism error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.batch import BatchJob
from workflows.transcode import TranscodeJob

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_kind_of_job_has_a_recorded_history() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "single_output",
        "ladder_thumbnails_image_join_clip",
        "delayed_start_confirmed",
        "delayed_start_timed_out",
        "cancel_mid_encode",
        "partial_failure",
        "failed_at_probe",
        "webhook_retries",
        "retry_run",
        "batch_three_jobs",
        "batch_canceled",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
def test_recorded_history_replays_on_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[TranscodeJob, BatchJob], data_converter=pydantic_data_converter)
    result = asyncio.run(replayer.replay_workflow(history, raise_on_replay_failure=False))
    assert result.replay_failure is None, f"{path.stem}: {result.replay_failure}"
