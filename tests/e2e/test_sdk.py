"""The Python SDK (`recast.client`), sync and async, against the real stack: submit by file (upload),
URL and `upload://`; wait driven by the events stream with a progress callback; list over pages;
cancel and confirm; download with folder outputs whole (ffprobe'd); the API's errors as RecastError."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from recast.client import AsyncRecast, Recast, RecastError
from recast.core.job import Job, JobStatus, OutputStatus
from recast.core.responses import JobEvent
from recast.devstack.stack import Stack
from tests.helpers import API_KEY, ffprobe, stream

MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
HLS = {"type": "hls", "video": [{"codec": "h264", "resolution": "480p"}], "segments": {"duration": 1}}


@pytest.fixture
def client(stack: Stack) -> Any:
    with Recast(stack.env["API_URL"], API_KEY) as c:
        yield c


def check_downloads(paths: list[Path]) -> None:
    """The MP4 plays as H.264; the HLS package is whole on disk: every variant playlist and segment."""
    [mp4] = [p for p in paths if p.suffix == ".mp4"]
    video = stream(ffprobe(mp4), "video")
    assert video is not None and video["codec_name"] == "h264" and video["height"] == 360
    [master] = [p for p in paths if p.suffix == ".m3u8"]
    variants = [line for line in master.read_text().splitlines() if line and not line.startswith("#")]
    assert variants and all((master.parent / v).is_file() for v in variants)
    hls = ffprobe(master)  # ffprobe follows the playlists into the segments
    assert stream(hls, "video") is not None and float(hls["format"]["duration"]) > 1.5


def test_sync_submit_upload_wait_with_events_and_download(
    client: Recast, clips: dict[str, Path], tmp_path: Path
) -> None:
    sent: list[tuple[int, int]] = []
    job = client.submit(
        clips["small"], [MP4, HLS], on_upload=lambda s, t: sent.append((s, t)), metadata={"k": "v"}
    )
    assert isinstance(job, Job) and job.metadata == {"k": "v"}
    size = clips["small"].stat().st_size
    assert sent and sent[-1] == (size, size)
    assert job.input.filename == "small.mp4"

    events: list[JobEvent] = []
    done = client.wait(job.id, on_event=events.append)
    assert done.status is JobStatus.completed
    names = [e.event for e in events]
    assert names[0] == "snapshot" and names[-1] == "completed"
    assert "status_change" in names
    progress = [e.job.progress for e in events]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(o.status is OutputStatus.completed for o in done.outputs)

    paths = client.download(done, tmp_path)
    assert len(paths) == 2
    check_downloads(paths)


def test_sync_url_and_upload_inputs_list_pages_cancel_confirm(
    client: Recast, clips: dict[str, Path], http_server: str
) -> None:
    ticket = client.upload(clips["small"])
    by_upload = client.submit(ticket.input_url, [MP4])
    by_url = client.submit(f"{http_server}/small.mp4", [MP4], delayed_start=True, priority="premium")
    waiting = client.wait(by_url.id)  # stops at the confirmation step
    assert waiting.status is JobStatus.awaiting_confirmation and waiting.total_estimated_cost is not None
    assert client.confirm(by_url.id).status in (JobStatus.processing, JobStatus.completed)
    to_cancel = client.submit(clips["long720"], [MP4], delayed_start=True)
    assert client.cancel(to_cancel.id).status is JobStatus.canceled
    for job_id in (by_upload.id, by_url.id):
        assert client.wait(job_id).status is JobStatus.completed

    ids = {by_upload.id, by_url.id, to_cancel.id}
    deadline = time.monotonic() + 20
    while True:  # listing is eventually consistent: wait until all three show
        seen = [j.id for j in client.list(page_size=2)]
        if ids <= set(seen) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert ids <= set(seen), "not every job was listed across the pages"
    assert len(seen) == len(set(seen)), "a job was listed on two pages"
    assert client.list_page(limit=2).next_cursor is not None
    canceled = list(client.list(status="canceled", page_size=5))
    assert all(j.status is JobStatus.canceled for j in canceled)


def test_errors_carry_the_api_code_and_status(client: Recast, clips: dict[str, Path]) -> None:
    with pytest.raises(RecastError) as err:
        client.get("job_doesnotexist")
    assert (err.value.status, err.value.code) == (404, "not-found")
    with pytest.raises(RecastError) as err:
        client.submit("https://example.com/a.mp4", [{"type": "webm", "video": {"codec": "h264"}}])
    assert (err.value.status, err.value.code) == (400, "invalid-input")
    assert "vp9" in err.value.message
    with pytest.raises(RecastError) as err:
        client.confirm("job_doesnotexist")
    assert err.value.status == 404
    with pytest.raises(RecastError) as err:
        Recast(client.http.base_url.__str__(), "wrong-key").get("job_x")
    assert (err.value.status, err.value.code) == (401, "unauthorized")
    with pytest.raises(RecastError) as err:
        Recast("http://127.0.0.1:1", API_KEY).get("job_x")
    assert (err.value.status, err.value.code) == (0, "unreachable")


def test_async_client(stack: Stack, clips: dict[str, Path], tmp_path: Path) -> None:
    async def scenario() -> None:
        async with AsyncRecast(stack.env["API_URL"], API_KEY) as client:
            sent: list[int] = []
            job = await client.submit(clips["small"], [MP4, HLS], on_upload=lambda s, t: sent.append(s))
            assert sent[-1] == clips["small"].stat().st_size
            per_output: dict[str, list[int]] = {}

            def on_event(event: JobEvent) -> None:
                for out in event.job.outputs:
                    per_output.setdefault(out.id, []).append(out.progress)

            done = await client.wait(job.id, on_event)
            assert done.status is JobStatus.completed
            assert set(per_output) == {o.id for o in done.outputs}
            assert all(p[-1] == 100 and p == sorted(p) for p in per_output.values())
            got: dict[str, int] = {}
            paths = await client.download(
                done.id, tmp_path, lambda o, n, d, t: got.__setitem__(f"{o.id}/{n}", d)
            )
            assert len(got) > 2, "the HLS package was not downloaded file by file"
            check_downloads(paths)

            delayed = await client.submit(clips["small"], [MP4], delayed_start=True)
            assert (await client.wait(delayed.id)).status is JobStatus.awaiting_confirmation
            assert (await client.cancel(delayed.id)).status is JobStatus.canceled
            with pytest.raises(RecastError) as err:
                await client.cancel(delayed.id)
            assert (err.value.status, err.value.code) == (409, "not-cancelable")
            # Pages of one: both jobs come, newest first, across pages (visibility may lag a moment).
            for _ in range(50):
                listed = [item.id async for item in client.list(page_size=1)]
                if {job.id, delayed.id} <= set(listed):
                    break
                await asyncio.sleep(0.2)
            assert listed.index(delayed.id) < listed.index(job.id)
            assert len(listed) == len(set(listed))

    asyncio.run(scenario())
