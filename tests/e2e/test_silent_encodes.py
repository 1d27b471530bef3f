"""Outputs ffmpeg works on without printing progress are not killed as stalled while it computes.

A single large picture (one AVIF frame) is silent until it is written. On a stack whose stall timeout
is shorter than that encode, the output used to be killed and retried until it failed `stalled`; the
stall check now also reads ffmpeg's CPU time for such runs (activities/ffmpeg_process.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, make_with_ffmpeg, own_api, stream


@pytest.fixture(scope="module")
def impatient_api(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A stack that calls 0.3 s without an ffmpeg progress line a stall."""
    with own_api(
        temporal, tmp_path_factory.mktemp("impatient"), "recast-impatient", RECAST_STALL_TIMEOUT="0.3"
    ) as api:
        yield api


@pytest.fixture(scope="module")
def large_still(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1900x1900 PNG: libaom takes about a second or more to write it as AVIF, printing nothing."""
    path = tmp_path_factory.mktemp("large-still") / "still.png"
    make_with_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1900x1900", "-frames:v", "1", str(path))
    return path


def test_a_large_avif_outlasting_the_stall_timeout_completes(
    impatient_api: Api, large_still: Path, tmp_path: Path
) -> None:
    output = {"type": "avif", "image": {"quality": 90}}
    job = impatient_api.wait(impatient_api.submit(large_still, [output])["id"], timeout=180)
    assert job["status"] == "completed", job
    picture = stream(impatient_api.fetch_output(job, 0, tmp_path / "still.avif"), "video")
    assert picture is not None
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("av1", 1900, 1900)
