"""Activities in Temporal's ActivityEnvironment: heartbeated progress and cancellation killing ffmpeg."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.deps import Deps
from activities.encode import EncodeActivities
from activities.stream import StreamActivities
from recast.core.payloads import EncodeRequest
from recast.infra import config
from tests.helpers import alive, ffmpeg_pids, place_input, request


@pytest.fixture
def deps(tmp_path: Path, clips: dict[str, Path]) -> Iterator[Deps]:
    settings = config.Settings(
        data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s"
    )
    deps = Deps.from_settings(settings)
    yield deps
    deps.probes.close()  # as the worker does at shutdown


def test_encode_heartbeats_progress_and_uploads(deps: Deps, clips: dict[str, Path]) -> None:
    place_input(deps, clips["small"], "acme/jobs/job_a/input/small.mp4")
    req = request(deps, clips["small"], {"type": "mp4", "video": {"codec": "h264"}}, "job_a")
    req.input_key = "acme/jobs/job_a/input/small.mp4"
    beats: list[dict[str, Any]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details[0])
    result = asyncio.run(env.run(EncodeActivities(deps).encode_output, req))
    assert result.storage_key == "acme/jobs/job_a/outputs/out_1.mp4"
    stored = deps.storage.local_path(result.storage_key)
    assert stored is not None and stored.stat().st_size == result.file_size_bytes > 0
    assert beats and all(b["output_id"] == "out_1" for b in beats)
    assert not list((deps.scratch / "work").rglob("*.mp4")), "scratch files were left behind"


async def cancel_once_ffmpeg_runs(
    env: ActivityEnvironment,
    activity_fn: Callable[[EncodeRequest], Coroutine[Any, Any, Any]],
    req: EncodeRequest,
) -> list[int]:
    """Run the activity, cancel it as soon as its ffmpeg runs; the pids of that ffmpeg."""
    task = asyncio.create_task(env.run(activity_fn, req))
    for _ in range(500):
        if pids := ffmpeg_pids(req.job_id):
            break
        await asyncio.sleep(0.01)
    assert pids, "ffmpeg never started"
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return pids


def test_cancelled_encode_kills_ffmpeg_and_cleans_scratch(deps: Deps, clips: dict[str, Path]) -> None:
    key = "acme/jobs/job_cancel/input/long.mp4"
    place_input(deps, clips["long720"], key)
    req = request(
        deps,
        clips["long720"],
        {"type": "webm", "video": {"codec": "vp9", "quality": "premium"}},
        "job_cancel",
    )
    req.input_key = key
    pids = asyncio.run(
        cancel_once_ffmpeg_runs(ActivityEnvironment(), EncodeActivities(deps).encode_output, req)
    )
    assert not any(alive(p) for p in pids), "ffmpeg still running after cancellation"
    assert not list((deps.scratch / "work").rglob("*.webm")), "scratch files were left behind"


def test_cancelled_ladder_kills_ffmpeg_and_cleans_scratch(deps: Deps, clips: dict[str, Path]) -> None:
    key = "acme/jobs/job_ladder_cancel/input/long.mp4"
    place_input(deps, clips["long720"], key)
    ladder = {
        "type": "dash",
        "video": [{"codec": "vp9", "quality": "premium"}, {"codec": "vp9", "height": 360}],
    }
    req = request(deps, clips["long720"], ladder, "job_ladder_cancel")
    req.input_key = key
    beats: list[dict[str, Any]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details[0])

    pids = asyncio.run(cancel_once_ffmpeg_runs(env, StreamActivities(deps).package_stream, req))
    assert not any(alive(p) for p in pids), "ffmpeg still running after cancellation"
    assert beats and beats[0]["output_id"] == "out_1"
    assert not list((deps.scratch / "work").rglob("*.m4s")), "scratch files were left behind"
    assert not list((deps.scratch / "work").rglob("package")), "the package folder was left behind"
