"""The upload step: an output is encoded once and its upload retried on its own (store_output on the
encoding worker's own task queue); when that worker is gone, the output is encoded again elsewhere.

The store is real: moto's S3 server behind a loopback proxy that refuses output PUTs with
`503 SlowDown` while told to (tests/helpers/flaky_store.py). Attempts are counted in the job's
workflow history, as an operator would read them in the Web UI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recast.devstack.stack import Stack, free_port
from tests.helpers import Api, new_stack, stream
from tests.helpers.flaky_store import FlakyStore, flaky_store
from tests.helpers.history import activity_runs

H264 = {"type": "mp4", "video": {"codec": "h264", "quality": "economy"}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlakyStore]:
    with flaky_store(tmp_path_factory.mktemp("flaky-s3")) as s:
        yield s


def start(temporal: Stack, data_dir: Path, store: FlakyStore, queue: str) -> tuple[Stack, Api]:
    s = new_stack(
        temporal,
        data_dir,
        queue,
        RECAST_UPLOAD_ATTEMPTS="5",
        RECAST_UPLOAD_PICKUP_TIMEOUT="3",
        **store.env(),
    )
    s.start_worker()
    port = free_port()
    s.start_api("127.0.0.1", port)
    return s, Api(f"http://127.0.0.1:{port}")


def check_output(api: Api, job: dict, dest: Path) -> None:  # type: ignore[type-arg]
    assert job["status"] == "completed", job
    data = api.fetch_output(job, 0, dest)
    video = stream(data, "video")
    assert video and video["codec_name"] == "h264" and video["height"] == 360
    assert abs(float(data["format"]["duration"]) - 2.0) < 0.3


def test_failed_uploads_are_retried_without_encoding_again(
    temporal: Stack, store: FlakyStore, clips: dict[str, Path], tmp_path: Path
) -> None:
    stack, api = start(temporal, tmp_path / "stack", store, "recast-upload-retry")
    try:
        store.refuse, store.refused = 2, 0
        job = api.submit(clips["small"], [H264])
        stages = set()
        deadline = time.monotonic() + 90
        while (now := api.job(job["id"]))["status"] not in ("completed", "failed", "partial", "canceled"):
            stages.add(now["stage"])
            assert time.monotonic() < deadline, now
            time.sleep(0.1)
        check_output(api, now, tmp_path / "out.mp4")
        assert store.refused == 2
        assert "uploading" in stages, stages  # the job said what it was doing while the store refused
    finally:
        stack.stop()
    # The worker stopped cleanly (SIGTERM): nothing it staged is left in its scratch.
    assert list((tmp_path / "stack" / "scratch" / "staged").iterdir()) == []
    runs = activity_runs(temporal.env["RECAST_TEMPORAL_ADDRESS"], job["id"])
    encodes = [r for r in runs if r.activity_type == "encode_output"]
    uploads = [r for r in runs if r.activity_type == "store_output"]
    # One encode, one upload activity that took three attempts (two refused, the third stored).
    assert [(r.attempt, r.outcome) for r in encodes] == [(1, "completed")]
    assert [(r.attempt, r.outcome) for r in uploads] == [(3, "completed")]
    # On the encoding worker's own queue, run by the process that encoded it.
    assert uploads[0].task_queue.startswith("recast-upload-retry-upload-")
    assert uploads[0].identity == encodes[0].identity
    print(f"attempts: encode {encodes[0].attempt}, upload {uploads[0].attempt}")


def test_upload_whose_worker_is_gone_encodes_again_elsewhere(
    temporal: Stack, store: FlakyStore, clips: dict[str, Path], tmp_path: Path
) -> None:
    stack, api = start(temporal, tmp_path / "stack", store, "recast-upload-gone")
    try:
        store.refuse, store.refused = 1_000, 0
        job = api.submit(clips["small"], [H264])
        deadline = time.monotonic() + 60
        while store.refused < 1:  # the first worker encoded it and is trying to store it
            assert time.monotonic() < deadline, api.job(job["id"])
            time.sleep(0.05)
        stack.kill("worker")  # SIGKILL: its scratch files and its own queue's poller are gone with it
        store.refuse = 0
        stack.start_worker("worker2")
        done = api.wait(job["id"], timeout=120)
        check_output(api, done, tmp_path / "out.mp4")
    finally:
        stack.stop()
    runs = activity_runs(temporal.env["RECAST_TEMPORAL_ADDRESS"], job["id"])
    encodes = [r for r in runs if r.activity_type == "encode_output"]
    uploads = [r for r in runs if r.activity_type == "store_output"]
    assert [r.outcome for r in encodes] == ["completed", "completed"]
    assert encodes[0].identity != encodes[1].identity  # encoded again, by the second worker
    # The first upload waited on the dead worker's queue until its pickup timeout; the second ran on
    # the new worker's own queue.
    assert [r.outcome for r in uploads] == ["timed-out:SCHEDULE_TO_START", "completed"]
    assert uploads[0].task_queue != uploads[1].task_queue
    assert uploads[1].identity == encodes[1].identity
    print(f"encodes {len(encodes)}, upload attempts {[r.attempt for r in uploads]}")
