"""Histories of the features that came with their own workflow or path — a retry run of a failed output
(its `retry-writes-original-keys` patch marker), a batch of three jobs and a cancelled batch
(BatchJob) — recorded when they came (before the upload step), and a split-and-stitch job (its
`chunked-encode` patch marker and chunk activities), replayed on today's workflows. Kept
apart from tests/workflow/histories/, whose sets hold one history of every kind of job."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.batch import BatchJob
from workflows.transcode import TranscodeJob

HISTORIES = sorted((Path(__file__).parent / "feature_histories").glob("*.json"))


def test_the_feature_histories_are_there() -> None:
    assert {p.stem for p in HISTORIES} == {
        "retry_run",
        "batch_three_jobs",
        "batch_canceled",
        "chunked_output",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
def test_feature_history_replays_on_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[TranscodeJob, BatchJob], data_converter=pydantic_data_converter)
    result = asyncio.run(replayer.replay_workflow(history, raise_on_replay_failure=False))
    assert result.replay_failure is None, f"{path.stem}: {result.replay_failure}"
