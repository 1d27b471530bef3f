"""Seekable downloads on local storage: `/v1/files/…` answers range requests (206, 416), carries ETag and
Last-Modified and answers conditional GETs, for a single-file output and a file of an HLS package.
The same on S3 storage (ranged reads from the store): tests/e2e/test_web_s3.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Api, ffprobe
from tests.helpers.seeking import check_seekable

MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
HLS = {"type": "hls", "video": [{"codec": "h264", "height": 180}], "segments": {"duration": 1}}


@pytest.fixture(scope="module")
def finished(api: Api, clips: dict[str, Path]) -> dict[str, Any]:
    job = api.wait(api.submit(clips["small"], [MP4, HLS])["id"])
    assert job["status"] == "completed", job
    return job


def test_single_file_output_is_seekable(api: Api, finished: dict[str, Any], tmp_path: Path) -> None:
    out = finished["outputs"][0]
    url = api.http.get(f"/v1/jobs/{finished['id']}/outputs/{out['id']}/download").json()["url"]
    assert "/v1/files/" in url  # local storage: the gateway serves it
    body = check_seekable(url)
    assert len(body) == out["file_size_bytes"]
    (tmp_path / "out.mp4").write_bytes(body)
    assert ffprobe(tmp_path / "out.mp4")["streams"]


def test_files_of_a_folder_output_are_seekable(api: Api, finished: dict[str, Any]) -> None:
    out = finished["outputs"][1]
    link = api.http.get(f"/v1/jobs/{finished['id']}/outputs/{out['id']}/download").json()
    segment = max((f for f in link["files"] if f["name"].endswith(".m4s")), key=lambda f: f["size"])
    assert len(check_seekable(segment["url"])) == segment["size"]
