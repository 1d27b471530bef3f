"""A deploy in the middle of running jobs: jobs started by an API and a worker running the code from before
the upload step (commit 78f8d4a, the commit the upload step was branched from, taken out of this repository's git
history with `git archive`) finish on a worker running today's code.

- A delayed-start job reaches `awaiting_confirmation` on the old worker; it is confirmed after the
  deploy, and from there runs the new behaviour: the `upload-as-own-step` patch marker, the encode, and
  its upload as its own step on the new worker's own queue.
- A job whose encode the old worker started keeps the old behaviour on the new code: its encode stored
  the output itself, no upload step and no patch marker.

Both complete with a verified output, and their histories (mixing both workers) replay on today's
TranscodeJob. docs/workflow-changes.md explains the patching this proves."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from recast.core.contract import UPLOAD_STEP_PATCH
from recast.devstack.stack import ROOT, Stack, free_port, wait_for_port
from tests.helpers import Api, new_stack, stream
from tests.helpers.history import activity_runs, patch_markers
from workflows.transcode import TranscodeJob

OLD_COMMIT = "78f8d4aff28c320dc027b746f529d25a0dae07c1"  # main before the upload step
MP4 = {"type": "mp4", "video": {"codec": "h264", "quality": "economy"}}


def old_code(dest: Path) -> Path:
    """The tree of OLD_COMMIT, extracted from the repository's history."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", OLD_COMMIT], capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs the git history holding {OLD_COMMIT[:7]} (a full clone): {exc}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


@contextlib.contextmanager
def old_process(stack: Stack, code: Path, name: str, args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """A process of the old tree (`python worker.py`, or its API), importing only the old tree's modules
    (its folder first on sys.path), with the stack's settings."""
    env = {**stack.env, "PYTHONPATH": str(code)}
    # The old code knows only its own RECAST_TEMPORAL_* variables, not Temporal's TEMPORAL_* ones.
    if "TEMPORAL_ADDRESS" in env:
        env["RECAST_TEMPORAL_ADDRESS"] = env["TEMPORAL_ADDRESS"]
    if "TEMPORAL_NAMESPACE" in env:
        env["RECAST_TEMPORAL_NAMESPACE"] = env["TEMPORAL_NAMESPACE"]
    with (stack.data_dir / f"old-{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=code,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def old_worker(stack: Stack, code: Path) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return old_process(stack, code, "worker", [str(code / "worker.py")])


def old_api(
    stack: Stack, code: Path, port: int
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    args = ["-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
    return old_process(stack, code, "api", args)


def workflow_task_identities(address: str, job_id: str) -> list[str]:
    async def read() -> list[str]:
        client = await Client.connect(address)
        history = await client.get_workflow_handle(job_id).fetch_history()
        completed = [e for e in history.events if e.HasField("workflow_task_completed_event_attributes")]
        return [e.workflow_task_completed_event_attributes.identity for e in completed]

    return asyncio.run(read())


def replays(address: str, job_id: str) -> Exception | None:
    async def replay() -> Exception | None:
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        history = await client.get_workflow_handle(job_id).fetch_history()
        replayer = Replayer(workflows=[TranscodeJob], data_converter=pydantic_data_converter)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        return result.replay_failure

    return asyncio.run(replay())


def check_output(api: Api, job: dict, dest: Path) -> None:  # type: ignore[type-arg]
    assert job["status"] == "completed", job
    data = api.fetch_output(job, 0, dest)
    video = stream(data, "video")
    assert video and video["codec_name"] == "h264" and video["height"] == 360
    assert abs(float(data["format"]["duration"]) - 2.0) < 0.3


def test_jobs_started_on_the_old_code_finish_on_the_new(
    temporal: Stack, clips: dict[str, Path], tmp_path: Path
) -> None:
    code = old_code(tmp_path / "old")
    address = temporal.env["RECAST_TEMPORAL_ADDRESS"]
    stack = new_stack(temporal, tmp_path / "stack", "recast-deploy", RECAST_CONFIRMATION_TIMEOUT="600")
    try:
        # The old deployment: its API and its worker. (A new API may send fields an old worker does not
        # know: deploy workers first, then the API — docs/workflow-changes.md.)
        old_port = free_port()
        with old_worker(stack, code) as old, old_api(stack, code, old_port):
            wait_for_port("127.0.0.1", old_port, 60)
            before = Api(f"http://127.0.0.1:{old_port}")
            old_identity = f"{old.pid}@{socket.gethostname()}"
            resp = before.upload(clips["small"], [MP4], delayed_start="true")
            assert resp.status_code == 202, resp.text
            waiting = resp.json()["id"]
            before.wait(waiting, timeout=60, until={"awaiting_confirmation"})
            encoding = before.submit(clips["small"], [MP4])["id"]
            before.wait(encoding, timeout=60, until={"processing"})
            # The deploy: the old worker stops gracefully (its running encode may finish), the new starts.
            old.send_signal(signal.SIGTERM)
            assert old.wait(timeout=60) == 0
        new = stack.start_worker()
        new_identity = f"{new.pid}@{socket.gethostname()}"
        port = free_port()
        stack.start_api("127.0.0.1", port)
        api = Api(f"http://127.0.0.1:{port}")
        confirmed = api.http.post(f"/v1/jobs/{waiting}/confirm")
        assert confirmed.status_code == 200, confirmed.text
        check_output(api, api.wait(waiting, timeout=90), tmp_path / "waiting.mp4")
        check_output(api, api.wait(encoding, timeout=90), tmp_path / "encoding.mp4")
    finally:
        stack.stop()

    # The delayed-start job: started on the old code, then the new behaviour after the deploy.
    tasks = workflow_task_identities(address, waiting)
    assert tasks[0] == old_identity and tasks[-1] == new_identity, tasks
    assert patch_markers(address, waiting) == [UPLOAD_STEP_PATCH]
    runs = [(r.activity_type, r.identity, r.outcome) for r in activity_runs(address, waiting)]
    assert runs == [
        ("encode_output", new_identity, "completed"),
        ("store_output", new_identity, "completed"),
    ], runs

    # The job the old worker was encoding: the old behaviour (the encode stored its output), no marker.
    assert patch_markers(address, encoding) == []
    runs = [(r.activity_type, r.identity, r.outcome) for r in activity_runs(address, encoding)]
    assert runs == [("encode_output", old_identity, "completed")], runs
    assert workflow_task_identities(address, encoding)[-1] == new_identity

    for job_id in (waiting, encoding):
        assert replays(address, job_id) is None
    print(json.dumps({"old": old_identity, "new": new_identity}))
