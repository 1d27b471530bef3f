"""tus uploads and seekable downloads with S3 storage (an S3-compatible server on loopback, moto).

On S3 a tus upload's PATCHes are stored as parts and joined when the last byte arrives
(recast/infra/tus.py): tus-js-client pauses midway (the parts are in the bucket, no data object yet),
resumes from the server's offset, and the joined object is the clip, usable as `upload://`. Files of
folder outputs are served by `/v1/files/…` from ranged reads of the store; single files are the store's
own pre-signed GETs, which answer ranges themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recast.devstack.stack import Stack, free_port
from recast.infra.storage import Storage
from tests.helpers import API_KEY, Api, ffprobe, new_stack, stream
from tests.helpers.js import tus_upload
from tests.helpers.s3 import s3_env, s3_server, s3_storage
from tests.helpers.seeking import check_seekable

TUS = {"Tus-Resumable": "1.0.0"}
MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
HLS = {"type": "hls", "video": [{"codec": "h264", "height": 180}], "segments": {"duration": 1}}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def s3_api(temporal: Stack, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    s = new_stack(temporal, tmp_path_factory.mktemp("s3web"), "recast-s3-web-tests", **s3_env(s3_endpoint))
    s.start_worker()
    port = free_port()
    s.start_api("127.0.0.1", port)
    yield Api(f"http://127.0.0.1:{port}")
    s.stop()


def keys_under(storage: Storage, prefix: str) -> dict[str, int]:
    async def walk() -> dict[str, int]:
        found = {}
        async for entry in await storage.op.list(prefix, recursive=True):
            if not entry.path.endswith("/"):
                found[entry.path[len(prefix) :]] = (await storage.op.stat(entry.path)).content_length
        return found

    return asyncio.run(walk())


def test_tus_upload_in_parts_joined_in_the_bucket(
    s3_api: Api, s3_endpoint: str, clips: dict[str, Path], tmp_path: Path
) -> None:
    clip = clips["small"]
    size = clip.stat().st_size
    storage = s3_storage(s3_endpoint)
    with tus_upload(f"{s3_api.base_url}/v1/tus/", API_KEY, clip, chunk_size=size // 4 + 1) as run:
        paused = run.step()
        upload_id = paused["url"].rsplit("/", 1)[-1]
        prefix = f"acme/uploads/{upload_id}/"
        stored = keys_under(storage, prefix)
        parts = {k: v for k, v in stored.items() if k.startswith("parts/")}
        # One object per PATCH, named by its offset, and no data object until the last byte.
        assert sum(parts.values()) == paused["offset"] and len(parts) >= 2, stored
        assert set(stored) == {"upload.json", *parts}
        head = s3_api.http.head(paused["url"], headers=TUS)
        assert int(head.headers["upload-offset"]) == paused["offset"]
        run.resume()
        assert run.step()["offset"] == size

    # Joined: the data object is the clip, the parts are gone.
    after = keys_under(storage, prefix)
    assert set(after) == {"upload.json", "data/small.mp4"} and after["data/small.mp4"] == size

    async def read() -> bytes:
        return bytes(await storage.op.read(f"{prefix}data/small.mp4"))

    assert asyncio.run(read()) == clip.read_bytes()

    sub = s3_api.http.post("/v1/jobs", json={"input_url": f"upload://{upload_id}", "outputs": [MP4, HLS]})
    assert sub.status_code == 202, sub.text
    job = s3_api.wait(sub.json()["id"], timeout=120)
    assert job["status"] == "completed", job
    assert job["input"]["size"] == size

    # A file of the HLS package: served by the gateway from ranged reads of the bucket.
    hls = job["outputs"][1]
    link = s3_api.http.get(f"/v1/jobs/{job['id']}/outputs/{hls['id']}/download").json()
    segment = max((f for f in link["files"] if f["name"].endswith(".m4s")), key=lambda f: f["size"])
    assert "/v1/files/" in segment["url"]
    assert len(check_seekable(segment["url"])) == segment["size"]

    # The MP4: the store's pre-signed GET, which answers a range itself.
    mp4 = job["outputs"][0]
    url = s3_api.http.get(f"/v1/jobs/{job['id']}/outputs/{mp4['id']}/download").json()["url"]
    assert url.startswith(s3_endpoint)
    part = httpx.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and len(part.content) == 100
    (tmp_path / "out.mp4").write_bytes(httpx.get(url, timeout=30).content)
    video = stream(ffprobe(tmp_path / "out.mp4"), "video")
    assert video and video["height"] == 360
