"""Split-and-stitch under faults and across machines, with real processes: a worker killed while chunks
run costs only the chunk it held (the job's history counts the attempts); a cancelled job stops every
chunk and leaves none in storage; on S3 two workers with scratch spaces of their own (two machines)
share a job's chunks through the bucket; `make run` with RECAST_WORKERS starts that many workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recast.devstack.stack import Stack, free_port
from recast.infra.config import Settings
from recast.infra.storage import Storage
from tests.helpers import (
    Api,
    activity_attempts,
    alive,
    ffmpeg_pids,
    frames_and_ends,
    make_clip,
    moto_s3,
    new_stack,
    upload_form,
)
from tests.helpers.launcher import Launcher, wait_gone


@pytest.fixture
def two_workers(temporal: Stack, tmp_path: Path) -> Iterator[tuple[Stack, Api]]:
    """An API and two workers (one chunk slot each) on a task queue of their own."""
    s = new_stack(
        temporal,
        tmp_path / "stack",
        f"recast-{tmp_path.name}",
        RECAST_HEARTBEAT_TIMEOUT="3",
        RECAST_CHUNKING_MIN_DURATION="5",
    )
    s.start_worker("worker-a")
    s.start_worker("worker-b")
    port = free_port()
    s.start_api("127.0.0.1", port)
    yield s, Api(f"http://127.0.0.1:{port}")
    s.stop()


@pytest.fixture(scope="module")
def eight_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("faults") / "eight.mp4", seconds=8, size="480x270", rate=25)


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def frozen(pid: int) -> bool:
    """SIGSTOP `pid` so that the chunk it encodes cannot finish before its worker is killed; whether it
    is stopped now (False: it had already ended)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    time.sleep(0.05)
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def chunk_ffmpeg(job_id: str) -> list[int]:
    # A chunk's ffmpeg writes `chunk_NNNNN.<ext>` into its scratch folder, named after the job (the
    # probe's decode check reads the same input, so the job's ID alone is not enough).
    return [p for p in ffmpeg_pids(job_id) if p in ffmpeg_pids("/chunk_0")]


def test_a_killed_worker_costs_only_the_chunk_it_held(
    two_workers: tuple[Stack, Api], eight_seconds: Path, temporal: Stack, tmp_path: Path
) -> None:
    stack, api = two_workers
    outputs = [{"type": "webm", "video": {"codec": "vp9"}}]
    resp = upload_form(api, eight_seconds, outputs, chunking="on", chunk_duration="1")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    victim = stack.procs["worker-b"]
    deadline = time.monotonic() + 60
    held: list[int] = []
    while time.monotonic() < deadline and not held:
        held = [p for p in chunk_ffmpeg(job_id) if parent(p) == victim.pid and frozen(p)]
        time.sleep(0.01)
    assert held, "worker-b never took a chunk"
    stack.kill("worker-b")  # SIGKILL of its process group: the worker and its ffmpeg
    assert not any(alive(p) for p in held)

    done = api.wait(job_id, timeout=120)
    assert done["status"] == "completed", done
    assert done["outputs"][0]["chunks"] == 8
    # One chunk slot per worker: the killed worker held one chunk, encoded again (attempt 2) on the
    # other; every other chunk, including those it had finished and stored, was encoded once.
    attempts = activity_attempts(temporal, job_id, "encode_chunk")
    assert sorted(attempts) == [1] * 7 + [2], attempts
    api.download(job_id, done["outputs"][0]["id"], tmp_path / "o.webm")
    frames, video_end, audio_end = frames_and_ends(tmp_path / "o.webm")
    assert frames == 200 and abs(audio_end - video_end) <= 0.040


def test_auto_chunks_a_long_enough_input_over_two_workers(
    two_workers: tuple[Stack, Api], eight_seconds: Path, temporal: Stack
) -> None:
    _, api = two_workers
    short = make_clip(eight_seconds.with_name("three.mp4"), seconds=3, size="320x180", rate=25)
    jobs = {}
    for name, clip in (("long", eight_seconds), ("short", short)):
        resp = upload_form(api, clip, [{"type": "mp4", "video": {"codec": "h264"}}], chunk_duration="2")
        assert resp.status_code == 202, resp.text
        jobs[name] = resp.json()["id"]
    long, short_job = (api.wait(jobs[n], timeout=120) for n in ("long", "short"))
    assert long["status"] == short_job["status"] == "completed"
    # 8 s ≥ RECAST_CHUNKING_MIN_DURATION (5 s here) with two chunk slots polling: chunked; 3 s: whole.
    assert long["outputs"][0]["chunks"] == 4
    assert short_job["outputs"][0]["chunks"] == 1
    assert activity_attempts(temporal, jobs["short"], "plan_chunks") == []


def test_a_cancelled_chunked_job_stops_every_chunk_and_keeps_none(
    two_workers: tuple[Stack, Api], eight_seconds: Path
) -> None:
    stack, api = two_workers
    outputs = [{"type": "webm", "video": {"codec": "vp9"}}]
    resp = upload_form(api, eight_seconds, outputs, chunking="on", chunk_duration="1")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not chunk_ffmpeg(job_id):
        time.sleep(0.02)
    assert chunk_ffmpeg(job_id), "no chunk started"
    cancel = api.http.post(f"/v1/jobs/{job_id}/cancel")
    assert cancel.status_code == 200, cancel.text
    done = api.wait(job_id, timeout=60)
    assert done["status"] == "canceled", done
    assert not chunk_ffmpeg(job_id)
    storage = stack.data_dir / "storage" / "acme" / "jobs" / job_id
    assert not list(storage.glob("chunks/*/*")), "chunks left in storage"


def test_on_s3_workers_on_two_machines_share_the_chunks_through_the_bucket(
    temporal: Stack, eight_seconds: Path, tmp_path: Path
) -> None:
    keys = {"RECAST_S3_ACCESS_KEY_ID": "chunk-access", "RECAST_S3_SECRET_ACCESS_KEY": "chunk-secret"}
    (tmp_path / "moto").mkdir()
    with moto_s3(tmp_path / "moto", ("chunks-bucket",)) as endpoint:
        env = {"RECAST_STORAGE_URL": "s3://chunks-bucket/media", "RECAST_S3_ENDPOINT": endpoint, **keys}
        s = new_stack(temporal, tmp_path / "one", f"recast-s3-{tmp_path.name}", **env)
        try:
            s.start_worker("worker-a")
            # Another "machine": a scratch space of its own; only the bucket is shared.
            s.start_worker("worker-b", RECAST_DATA_DIR=str(tmp_path / "two"))
            port = free_port()
            s.start_api("127.0.0.1", port)
            api = Api(f"http://127.0.0.1:{port}")
            outputs = [{"type": "mp4", "video": {"codec": "h264"}}]
            resp = upload_form(api, eight_seconds, outputs, chunking="on", chunk_duration="1")
            assert resp.status_code == 202, resp.text
            done = api.wait(resp.json()["id"], timeout=120)
            assert done["status"] == "completed", done
            assert done["outputs"][0]["chunks"] == 8
            api.download(done["id"], done["outputs"][0]["id"], tmp_path / "o.mp4")
            frames, video_end, audio_end = frames_and_ends(tmp_path / "o.mp4")
            assert frames == 200 and abs(audio_end - video_end) <= 0.040
            settings = Settings(
                s3_endpoint=endpoint, s3_access_key_id=keys["RECAST_S3_ACCESS_KEY_ID"],
                s3_secret_access_key=keys["RECAST_S3_SECRET_ACCESS_KEY"],
            )  # fmt: skip
            storage = Storage("s3://chunks-bucket/media", settings)
            left = asyncio.run(storage.list_keys(f"acme/jobs/{done['id']}/chunks/"))
            assert left == [], left
            # Both "machines" encoded chunks (each logs its activities); one of them stitched them all.
            logs = {name: (s.data_dir / f"{name}.log").read_text() for name in ("worker-a", "worker-b")}
            assert all("encode_chunk" in text for text in logs.values())
            assert sum("stitch_chunks" in text for text in logs.values()) >= 1
        finally:
            s.stop()


def test_make_run_starts_recast_workers_workers(tmp_path: Path) -> None:
    launcher = Launcher.start(tmp_path / "data", RECAST_WORKERS="2")
    try:
        out = launcher.wait_for("Recast is running.")
        assert "workers      2 × 1 chunk slot(s)" in out
        started = launcher.descendants()
        workers = [p for p in started if b"worker.py" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2, started
        launcher.proc.send_signal(signal.SIGINT)
        launcher.proc.wait(60)
        left, _ = wait_gone(started, [launcher.api_port])
        assert not left
    finally:
        launcher.stop()
