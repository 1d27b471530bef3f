"""Templates and batches through the Python SDK (sync and async) and the `recast` CLI (as a subprocess)
against the real stack: a template created, versioned and retired; a batch of two tiny jobs naming it,
followed to its end; the jobs' outputs downloaded and ffprobe'd; the API's refusals as RecastError (or
the CLI's exit 2)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from recast.client import AsyncRecast, Recast, RecastError
from recast.core.batches import Batch, BatchStatus
from recast.core.job import Job, JobStatus
from recast.core.templates import Template
from recast.devstack.stack import Stack
from tests.helpers import API_KEY, ffprobe, stream

H264_240 = {"type": "mp4", "video": {"codec": "h264", "height": 240, "quality": "economy"}}


def new_name() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


def listed_jobs(client: Recast, batch_id: str, total: int) -> list[Job]:
    """The batch's jobs (its listing lags the batch's counts by a moment), each waited for on its own."""
    deadline = time.monotonic() + 30
    while len(jobs := list(client.batch_jobs(batch_id, page_size=1))) < total:
        assert time.monotonic() < deadline, f"only {len(jobs)} of {total} jobs listed"
        time.sleep(0.3)
    return [client.wait(job.id) for job in jobs]


def check_240p_h264(paths: list[Path]) -> None:
    for path in paths:
        video = stream(ffprobe(path), "video")
        assert video is not None and video["codec_name"] == "h264" and video["height"] == 240, path


def test_sync_template_versions_and_a_batch_made_from_it(
    stack: Stack, clips: dict[str, Path], http_server: str, tmp_path: Path
) -> None:
    name = new_name()
    with Recast(stack.env["API_URL"], API_KEY) as client:
        v1 = client.create_template(name, outputs=[H264_240], priority="economy", locked=["outputs"])
        assert isinstance(v1, Template) and (v1.version, v1.locked) == (1, ["outputs"])
        with pytest.raises(RecastError) as err:
            client.create_template(name, outputs=[H264_240])
        assert (err.value.status, err.value.code) == (409, "template-exists")
        # The one read back goes back as the body: everything kept, the metadata added.
        v2 = client.update_template(name, client.get_template(name), metadata={"team": "sdk"})
        assert (v2.version, v2.metadata, v2.locked) == (2, {"team": "sdk"}, ["outputs"])
        assert v2.outputs is not None and v2.outputs[0].video[0].height == 240
        assert client.get_template(name, version=1).metadata is None
        assert name in [t.name for t in client.list_templates()]

        ticket = client.upload(clips["small"])
        jobs: list[dict[str, Any]] = [
            {"input_url": ticket.input_url, "template": name},
            {"input_url": f"{http_server}/small.mp4", "template": name, "template_version": 1},
        ]
        # All or nothing: a job giving the locked field refuses the batch, naming it.
        with pytest.raises(RecastError) as err:
            client.submit_batch([*jobs, {"input_url": f"{http_server}/small.mp4", "template": name,
                                         "outputs": [{"type": "mp3"}]}])  # fmt: skip
        assert (err.value.status, err.value.code) == (400, "template-locked")
        assert err.value.message.startswith("jobs[2].outputs")

        batch = client.submit_batch(jobs, metadata={"run": "sdk"})
        assert isinstance(batch, Batch) and (batch.total, batch.metadata) == (2, {"run": "sdk"})
        seen: list[Batch] = []
        done = client.wait_batch(batch.id, on_update=seen.append, interval=0.3)
        assert done.status is BatchStatus.completed and done.counts.completed == 2, done
        assert seen[-1] == done and all(b.status is BatchStatus.running for b in seen[:-1])

        finished = listed_jobs(client, batch.id, 2)
        assert all(j.status is JobStatus.completed and j.batch_id == batch.id for j in finished)
        assert sorted(j.template.version for j in finished if j.template) == [1, 2]
        assert {j.priority.value for j in finished} == {"economy"}
        for job in finished:
            check_240p_h264(client.download(job, tmp_path / job.id))

        with pytest.raises(RecastError) as err:
            client.cancel_batch(batch.id)
        assert (err.value.status, err.value.code) == (409, "not-cancelable")
        client.delete_template(name)
        with pytest.raises(RecastError) as err:
            client.get_template(name)
        assert err.value.status == 404
        assert client.get_template(name, version=2).version == 2
        with pytest.raises(RecastError) as err:
            client.submit(f"{http_server}/small.mp4", template=name)
        assert err.value.status == 400


def test_async_template_batch_and_cancel(stack: Stack, http_server: str, tmp_path: Path) -> None:
    name = new_name()

    async def scenario() -> None:
        async with AsyncRecast(stack.env["API_URL"], API_KEY) as client:
            template = await client.create_template(name, {"outputs": [H264_240], "metadata": {"k": "v"}})
            assert template.version == 1 and template.metadata == {"k": "v"}
            url = f"{http_server}/small.mp4"
            batch = await client.submit_batch([{"input_url": url, "template": name}] * 2)
            done = await client.wait_batch(batch.id, interval=0.3)
            assert done.status is BatchStatus.completed and done.counts.completed == 2, done
            for _ in range(100):  # the listing lags the batch's counts by a moment
                listed = [job async for job in client.batch_jobs(batch.id)]
                if len(listed) == 2:
                    break
                await asyncio.sleep(0.3)
            assert len(listed) == 2
            for job in listed:
                finished = await client.wait(job.id)
                assert finished.status is JobStatus.completed and finished.metadata == {"k": "v"}
                check_240p_h264(await client.download(finished, tmp_path / job.id))
            page = await client.get_batch(batch.id, limit=1)
            assert len(page.jobs) == 1 and page.next_cursor is not None

            # A batch cancelled at once: its jobs never start and count as canceled.
            delayed = await client.submit_batch([{"input_url": url, "template": name, "delayed_start": True}])
            canceled = await client.cancel_batch(delayed.id)
            assert canceled.status is BatchStatus.canceled and canceled.counts.canceled == 1
            await client.delete_template(name)
            assert name not in [t.name for t in await client.list_templates()]

    asyncio.run(scenario())


def run_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECAST_API_URL": stack.env["API_URL"], "RECAST_API_KEY": API_KEY}
    return subprocess.run(
        [sys.executable, "-m", "recast.client.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cli_templates_and_a_batch(
    stack: Stack, clips: dict[str, Path], http_server: str, tmp_path: Path
) -> None:
    name = new_name()
    run = run_cli(stack, "template", "create", name, "-o", json.dumps(H264_240), "--lock", "outputs")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["version"] == 1
    # `update` changes the given flags on the latest version.
    run = run_cli(stack, "template", "update", name, "--metadata", "team=cli", "--description", "tiny")
    assert run.returncode == 0, run.stderr
    v2 = json.loads(run.stdout)
    assert (v2["version"], v2["metadata"], v2["locked"]) == (2, {"team": "cli"}, ["outputs"])
    assert v2["outputs"][0]["video"][0]["height"] == 240
    run = run_cli(stack, "template", "list")
    [row] = [line for line in run.stdout.splitlines() if line.startswith(name + " ")]
    assert "v2" in row and "outputs" in row and "tiny" in row
    assert json.loads(run_cli(stack, "template", "get", name, "--version", "1").stdout)["version"] == 1
    run = run_cli(stack, "submit", str(clips["small"]), "--template", name)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["template"] == {"name": name, "version": 2}

    # Two jobs (a local file, uploaded; a URL) from the template, followed and downloaded.
    run = run_cli(
        stack, "batch", "submit", str(clips["small"]), f"{http_server}/small.mp4", "--template", name,
        "--metadata", "run=cli", "--download", str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    batch_id = run.stderr.split()[0]
    assert batch_id.startswith("bat_") and "2/2 ended: completed 2" in run.stderr  # plain progress lines
    saved = [Path(line) for line in run.stdout.split()]
    assert len(saved) == 2 and {p.parent.parent for p in saved} == {tmp_path}
    check_240p_h264(saved)
    batch = json.loads(run_cli(stack, "batch", "get", batch_id).stdout)
    assert (batch["status"], batch["metadata"]) == ("completed", {"run": "cli"})
    run = run_cli(stack, "batch", "cancel", batch_id)
    assert run.returncode == 2 and "not-cancelable" in run.stderr

    run = run_cli(stack, "template", "delete", name)
    assert run.returncode == 0 and f"{name} deleted" in run.stdout
    run = run_cli(stack, "batch", "submit", f"{http_server}/small.mp4", "--template", name)
    assert run.returncode == 2 and "jobs[0]" in run.stderr
