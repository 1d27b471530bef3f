"""Folder outputs (HLS/DASH packages, thumbnail sets): one token grants the folder, nothing outside it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from activities.sign import download_link
from recast.core.formats import OutputType
from recast.core.job import Output, OutputFile, OutputStatus
from recast.infra.storage import Storage, output_prefix
from tests.helpers import SECRET, Api

FILES = {
    "master.m3u8": b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n",
    "720p/index.m3u8": b"#EXTM3U\nsegment_00000.ts\n",
    "720p/segment_00000.ts": b"\x47" * 188,
}


def _store_folder(storage_dir: Path, tmp_path: Path, job_id: str) -> Output:
    src = tmp_path / "package"
    for name, data in FILES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    storage = Storage(f"fs://{storage_dir}")
    files = asyncio.run(storage.adopt_dir(output_prefix("default", job_id, "out_1"), src))
    return Output(
        id="out_1",
        type=OutputType.mp4,  # the type does not matter to signing; `files` makes it a folder
        status=OutputStatus.completed,
        filename="master.m3u8",
        content_type="application/vnd.apple.mpegurl",
        files=files,
    )


def _link(storage_dir: Path, out: Output, job_id: str, base: str) -> tuple[str, dict[str, str]]:
    storage = Storage(f"fs://{storage_dir}")
    link = asyncio.run(download_link(storage, SECRET, "default", job_id, out, 600, base))
    assert link is not None
    return link.url, {f.name: f.url for f in link.files}


def test_adopt_dir_lists_every_file(stack_storage: Path, tmp_path: Path) -> None:
    out = _store_folder(stack_storage, tmp_path, "job_folder_list")
    assert [(f.name, f.size) for f in out.files] == sorted((n, len(d)) for n, d in FILES.items())
    by_name = {f.name: f for f in out.files}
    assert by_name["master.m3u8"] == OutputFile(
        name="master.m3u8", size=len(FILES["master.m3u8"]), content_type="application/vnd.apple.mpegurl"
    )
    assert by_name["720p/segment_00000.ts"].content_type == "video/mp2t"


def test_one_token_serves_the_folder_and_relative_uris(stack_storage: Path, tmp_path: Path, api: Api) -> None:
    api_url = api.base_url
    out = _store_folder(stack_storage, tmp_path, "job_folder_serve")
    entry, files = _link(stack_storage, out, "job_folder_serve", api_url)
    assert entry == files["master.m3u8"]
    with httpx.Client() as client:
        master = client.get(entry)
        assert master.status_code == 200
        assert master.content == FILES["master.m3u8"]
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert master.headers["content-disposition"].startswith("inline")
        # A player resolves the playlist's relative URI against the master's URL.
        variant_url = str(httpx.URL(entry).join("720p/index.m3u8"))
        variant = client.get(variant_url)
        assert variant.content == FILES["720p/index.m3u8"]
        segment = client.get(str(httpx.URL(variant_url).join("segment_00000.ts")))
        assert segment.content == FILES["720p/segment_00000.ts"]
        assert segment.headers["content-type"] == "video/mp2t"


def test_folder_token_refuses_paths_outside_and_tampering(
    stack_storage: Path, tmp_path: Path, api: Api
) -> None:
    api_url = api.base_url
    out = _store_folder(stack_storage, tmp_path, "job_folder_escape")
    entry, _ = _link(stack_storage, out, "job_folder_escape", api_url)
    folder = entry.rsplit("/", 1)[0]
    token = folder.rsplit("/", 1)[1]
    with httpx.Client() as client:
        for name in ("..%2F..%2Finput%2Fclip.mp4", "720p/%2E%2E/%2E%2E/x", "a//b"):
            r = client.get(f"{folder}/{name}")
            assert r.status_code in (403, 404), name
            assert r.json()["error"]["code"] in ("invalid-token", "not-found")
        assert client.get(f"{folder}/missing.ts").status_code == 404
        # The folder token alone names no file.
        assert client.get(folder).json()["error"]["code"] == "not-found"
        payload, mac = token.split(".")
        forged = f"{api_url}/v1/files/{payload}.{mac[:-2]}xx/master.m3u8"
        assert client.get(forged).status_code == 403
