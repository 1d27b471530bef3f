"""Failure modes with real processes: a frozen ffmpeg, a killed worker, a restarted API."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recast.devstack.stack import Stack, free_port
from tests.helpers import Api, activity_attempts, alive, ffmpeg_pids, ffprobe, new_stack, stream


@pytest.fixture
def freezer() -> Iterator[list[str]]:
    """Freeze (SIGSTOP) every ffmpeg whose command line holds one of the strings put in the list."""
    needles: list[str] = []
    stop = threading.Event()
    frozen: set[int] = set()

    def loop() -> None:
        while not stop.is_set():
            for needle in list(needles):
                for pid in ffmpeg_pids(needle):
                    if pid not in frozen:
                        os.kill(pid, signal.SIGSTOP)
                        frozen.add(pid)
            time.sleep(0.005)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield needles
    stop.set()
    thread.join()
    for pid in frozen:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_stalled_rendition_is_retried_then_failed_and_job_is_partial(
    api: Api, clips: dict[str, Path], temporal: Stack, freezer: list[str], tmp_path: Path
) -> None:
    # Every VP9 encode of this job hangs (as ffmpeg does on some semi-corrupt inputs); H.264 is fine.
    freezer.append("libvpx-vp9")
    job = api.submit(
        clips["small"],
        [{"type": "mp4", "video": {"codec": "h264"}}, {"type": "webm", "video": {"codec": "vp9"}}],
    )
    done = api.wait(job["id"], timeout=60)
    freezer.clear()
    assert done["status"] == "partial", done
    good, stalled = done["outputs"]
    assert good["status"] == "completed"
    assert stalled["status"] == "failed" and stalled["error_code"] == "stalled"
    assert "no progress" in stalled["error_message"]
    assert done["error_code"] == "stalled"
    # Killed and retried (RECAST_ENCODE_ATTEMPTS=2 in the test stack) before giving up.
    assert activity_attempts(temporal, done["id"], "encode_output") == [1, 2]
    assert not ffmpeg_pids(done["id"]), "a stalled ffmpeg was left running"
    api.download(done["id"], good["id"], tmp_path / "good.mp4")
    assert stream(ffprobe(tmp_path / "good.mp4"), "video")["codec_name"] == "h264"  # type: ignore[index]
    link = api.http.get(f"/v1/jobs/{done['id']}/outputs/{stalled['id']}/download")
    assert link.status_code == 409 and "stalled" in link.json()["error"]["message"]


@pytest.fixture
def own_stack(temporal: Stack, tmp_path: Path) -> Iterator[tuple[Stack, Api]]:
    """An API and worker on their own task queue, so killing them disturbs no other test."""
    s = new_stack(temporal, tmp_path / "stack", f"recast-{tmp_path.name}", RECAST_HEARTBEAT_TIMEOUT="3")
    port = free_port()
    s.start_api("127.0.0.1", port)
    s.env["API_URL"] = f"http://127.0.0.1:{port}"
    yield s, Api(s.env["API_URL"])
    s.stop()


def test_worker_killed_mid_encode_job_completes_on_new_worker(
    own_stack: tuple[Stack, Api], clips: dict[str, Path], temporal: Stack, tmp_path: Path
) -> None:
    stack, api = own_stack
    worker = stack.start_worker("worker-1")
    job = api.submit(clips["long720"], [{"type": "mp4", "video": {"codec": "h264", "quality": "premium"}}])
    deadline = time.monotonic() + 30
    # The output's id names the encode's ffmpeg (probing runs a short ffmpeg decode of the input too).
    while not (pids := ffmpeg_pids(job["outputs"][0]["id"])) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pids, "the encode never started"

    worker.kill()  # SIGKILL the worker process alone: no graceful anything
    worker.wait()
    stack.procs.pop("worker-1")
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(p) for p in pids), "ffmpeg outlived its killed worker"

    stack.start_worker("worker-2")
    done = api.wait(job["id"], timeout=90)
    assert done["status"] == "completed", done
    assert activity_attempts(temporal, done["id"], "encode_output")[-1] >= 2
    api.download(done["id"], done["outputs"][0]["id"], tmp_path / "o.mp4")
    data = ffprobe(tmp_path / "o.mp4")
    assert (stream(data, "video")["width"], stream(data, "video")["height"]) == (1280, 720)  # type: ignore[index]
    assert abs(float(data["format"]["duration"]) - 6.0) <= 0.1


def test_api_restart_between_submit_and_poll(own_stack: tuple[Stack, Api], clips: dict[str, Path]) -> None:
    stack, api = own_stack
    stack.start_worker()
    job = api.submit(clips["small"], [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p"}}])
    stack.kill("api")
    port = int(api.base_url.rsplit(":", 1)[1])
    stack.start_api("127.0.0.1", port)
    done = api.wait(job["id"])
    assert done["id"] == job["id"] and done["status"] == "completed"
    assert done["outputs"][0]["id"] == job["outputs"][0]["id"]


def test_job_submitted_with_no_worker_reads_as_pending(
    own_stack: tuple[Stack, Api], clips: dict[str, Path]
) -> None:
    stack, api = own_stack
    job = api.submit(clips["small"], [{"type": "mp4", "video": {"codec": "h264"}}])
    again = api.job(job["id"])
    assert again["status"] == "pending" and again["outputs"][0]["id"] == job["outputs"][0]["id"]
    stack.start_worker()  # work waits durably in Temporal until a worker comes
    assert api.wait(job["id"])["status"] == "completed"
