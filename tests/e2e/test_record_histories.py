"""scripts/record_histories.py still records what the replay check needs: run as documented (here for two
kinds of job, into a temporary folder), its histories are of finished jobs, hold the upload step, and
replay on today's TranscodeJob."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from recast.devstack.stack import ROOT
from workflows.transcode import TranscodeJob


def test_recorder_writes_histories_that_replay(tmp_path: Path) -> None:
    kinds = ["single_output", "delayed_start_confirmed"]
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "record_histories.py"), str(tmp_path), "--only", *kinds],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(kinds)
    replayer = Replayer(workflows=[TranscodeJob], data_converter=pydantic_data_converter)
    for kind in kinds:
        text = (tmp_path / f"{kind}.json").read_text()
        events = json.loads(text)["events"]
        assert events[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
        activities = {
            e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
            for e in events
            if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
        }
        assert {"encode_output", "store_output"} <= activities, activities
        result = asyncio.run(
            replayer.replay_workflow(WorkflowHistory.from_json(kind, text), raise_on_replay_failure=False)
        )
        assert result.replay_failure is None, f"{kind}: {result.replay_failure}"
