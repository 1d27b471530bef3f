"""Live progress of every kind of output through `GET /v1/jobs/{id}` while it is being made: encode
(mp4), package (hls), image (avif) and thumbnails (with a sprite). Each test polls until it sees the
output part way — more than 0, less than 100 — and the job's progress above the encoding stage's
floor (the output's progress folded in), then cancels the job: the inputs are long enough to give a
window of several seconds, and the test does not wait for the rest of it.

The stack here allows a long silence from ffmpeg (RECAST_STALL_TIMEOUT): a single big picture, or
thumbnails with a sprite, print no ffmpeg progress until their last output is written, and the shared
test stack's 3 s stall timeout would kill the slow runs these tests need.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recast.core.job import STAGE_PROGRESS, Stage
from recast.devstack.stack import Stack
from tests.helpers import TERMINAL, Api, make_with_ffmpeg, own_api, upload_form

ENCODING_FLOOR = STAGE_PROGRESS[Stage.encoding][0]


@pytest.fixture(scope="module")
def slow_api(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with own_api(
        temporal, tmp_path_factory.mktemp("progress"), "recast-progress", RECAST_STALL_TIMEOUT="60"
    ) as api:
        yield api


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A picture big enough (3.6 MP, under the stack's 4 MP limit) that its AVIF takes seconds."""
    path = tmp_path_factory.mktemp("still") / "still.png"
    make_with_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1900x1900", "-frames:v", "1", str(path))
    return path


def part_way(
    api: Api, clip: Path, output: dict[str, Any], timeout: float = 60, below: int = 100, **fields: str
) -> dict[str, Any]:
    """Submit a one-output job (with the form `fields`) and poll it until its output is part way (more
    than 0, less than `below`); that view of the job, after cancelling the rest of the work."""
    resp = upload_form(api, clip, [output], **fields)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    seen: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            job = api.job(job_id)
            out = job["outputs"][0]
            seen.append((job["status"], job["progress"], out["progress"]))
            if 0 < out["progress"] < below:
                return job
            assert job["status"] not in TERMINAL, f"the output was never seen part way: {seen}"
            time.sleep(0.05)
        raise AssertionError(f"the output was never seen part way in {timeout}s: {seen}")
    finally:
        # 200 canceled, or 409 when it has just finished: either way nothing is left running.
        assert api.http.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 409)


def assert_live(job: dict[str, Any]) -> None:
    assert job["status"] == "processing", job
    assert 0 < job["outputs"][0]["progress"] < 100, job
    # The output's progress is folded into the job's: above where the encoding stage starts.
    assert ENCODING_FLOOR < job["progress"] < 100, job


def test_encode_output_progress_is_live(slow_api: Api, clips: dict[str, Path]) -> None:
    mp4 = {"type": "mp4", "video": {"codec": "h264", "quality": "premium"}}
    assert_live(part_way(slow_api, clips["long720"], mp4))


def test_stream_package_progress_is_live(slow_api: Api, clips: dict[str, Path]) -> None:
    ladder = [{"codec": "h264", "resolution": "720p"}, {"codec": "h264", "resolution": "480p"}]
    assert_live(part_way(slow_api, clips["long720"], {"type": "hls", "video": ladder}))


def test_image_progress_is_live(slow_api: Api, still: Path) -> None:
    assert_live(part_way(slow_api, still, {"type": "avif", "image": {"quality": 90}}))


def test_thumbnails_progress_is_live(slow_api: Api, clips: dict[str, Path]) -> None:
    # Big PNG thumbnails and a sprite: ffmpeg reports nothing until the sprite is written at the end,
    # so this progress is measured by the thumbnail files written.
    thumbnails = {"count": 60, "format": "png", "width": 1280, "sprite": {"columns": 10}}
    job = part_way(slow_api, clips["long720"], {"type": "thumbnails", "thumbnails": thumbnails})
    assert_live(job)
    # Measured by the files written, not only once ffmpeg reports: ffmpeg opens the sprite after the
    # last thumbnail (60 of 61 files, ~98 %) and only then prints its output time (~96 % of the input).
    # How far the files got before the first poll saw them depends on the machine's load (one CI run
    # on two busy cores first saw 57 %), so the bound is the one that tells the two sources apart.
    assert job["outputs"][0]["progress"] < 90, job


def test_chunked_output_progress_is_live(slow_api: Api, clips: dict[str, Path]) -> None:
    # Two chunks on the one chunk slot: the workflow itself moves the output only when a chunk is done
    # (to 45 %, then 90 %); seen below 45 %, the progress came from the running chunk's heartbeats.
    webm = {"type": "webm", "video": {"codec": "vp9", "quality": "premium"}}
    job = part_way(slow_api, clips["long720"], webm, below=45, chunking="on", chunk_duration="3")
    assert_live(job)
