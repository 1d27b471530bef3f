"""The upload flow on local storage: POST /v1/uploads, PUT (whole or in resumable parts), a job from
`upload://`, and every refusal — another organization, a bad or expired token, too many bytes, a bad
input_url scheme. Plus the peak memory of the API while a file far larger than its memory budget is
uploaded and downloaded."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from recast.devstack.stack import Stack, free_port
from recast.infra.signing import FileGrant, sign
from recast.infra.uploads import UploadGrant, sign_upload
from tests.helpers import API_KEY, MAX_UPLOAD, ORG, SECRET, Api, ffprobe, new_stack, stream

H264_240 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}


def create_upload(api: Api, path: Path, size: int | None = None) -> dict[str, Any]:
    resp = api.http.post(
        "/v1/uploads",
        json={
            "filename": path.name,
            "size": path.stat().st_size if size is None else size,
            "content_type": "video/mp4",
        },
    )
    assert resp.status_code == 201, resp.text
    ticket: dict[str, Any] = resp.json()
    return ticket


def put_part(ticket: dict[str, Any], data: bytes, first: int, total: int) -> httpx.Response:
    headers = {"Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}"}
    return httpx.put(ticket["url"], content=data, headers=headers, timeout=30)


def offset(ticket: dict[str, Any]) -> int:
    resp = httpx.head(ticket["url"], timeout=10)
    assert resp.status_code == 200, resp.status_code
    return int(resp.headers["Upload-Offset"])


def cut_off_put(url: str, data: bytes, first: int, total: int, send: int) -> None:
    """A PUT of `data` whose connection dies after `send` bytes of its body: a client losing its network."""
    parts = urlsplit(url)
    head = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Length: {len(data)}\r\nContent-Range: bytes {first}-{first + len(data) - 1}/{total}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port or 80)) as sock:
        sock.sendall(head.encode() + data[:send])
        time.sleep(0.3)  # let the server store what arrived before the connection goes


def test_upload_then_job_from_upload_url(api: Api, clips: dict[str, Path], stack_storage: Path) -> None:
    clip = clips["small"]
    ticket = create_upload(api, clip)
    assert ticket["method"] == "PUT" and ticket["resumable"] is True
    assert ticket["input_url"] == f"upload://{ticket['upload_id']}"
    resp = httpx.put(ticket["url"], content=clip.read_bytes(), timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["complete"] is True and resp.json()["received"] == clip.stat().st_size

    sub = api.http.post("/v1/jobs", json={"input_url": ticket["input_url"], "outputs": [H264_240]})
    assert sub.status_code == 202, sub.text
    job = api.wait(sub.json()["id"])
    assert job["status"] == "completed", job
    assert job["input"]["filename"] == clip.name and job["input"]["size"] == clip.stat().st_size
    out = job["outputs"][0]
    dest = clip.parent / f"{job['id']}.mp4"
    api.download(job["id"], out["id"], dest)
    data = ffprobe(dest)
    video = stream(data, "video")
    assert video and video["codec_name"] == "h264" and video["height"] == 360  # never upscaled
    assert abs(float(data["format"]["duration"]) - 2.0) < 0.25
    # The upload is kept under the organization's own prefix.
    assert list((stack_storage / ORG / "uploads" / ticket["upload_id"] / "data").iterdir())


def test_upload_in_three_parts_resumed_after_a_cut(
    api: Api, clips: dict[str, Path], stack_storage: Path
) -> None:
    clip = clips["long720"]
    data = clip.read_bytes()
    size = len(data)
    third = size // 3
    ticket = create_upload(api, clip)
    assert offset(ticket) == 0

    first = put_part(ticket, data[:third], 0, size)
    assert first.status_code == 200, first.text
    assert first.json() == {**first.json(), "received": third, "complete": False}
    assert offset(ticket) == third

    # The second part's connection dies a little way in: what arrived is kept, HEAD says how much.
    cut_off_put(ticket["url"], data[third : 2 * third], third, size, send=third // 2)
    resumed_at = offset(ticket)
    assert third < resumed_at <= third + third // 2

    # A part that does not start where the upload stands is refused, and told where it stands.
    wrong = put_part(ticket, data[2 * third :], 2 * third, size)
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "offset-mismatch"
    assert int(wrong.headers["Upload-Offset"]) == resumed_at

    # An unfinished upload cannot start a job yet.
    early = api.http.post("/v1/jobs", json={"input_url": ticket["input_url"], "outputs": [H264_240]})
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload-incomplete", early.text

    # Resume from there in two more parts.
    middle = 2 * third
    assert put_part(ticket, data[resumed_at:middle], resumed_at, size).json()["received"] == middle
    last = put_part(ticket, data[middle:], middle, size)
    assert last.json()["complete"] is True
    stored = next((stack_storage / ORG / "uploads" / ticket["upload_id"] / "data").iterdir())
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()

    sub = api.http.post("/v1/jobs", json={"input_url": ticket["input_url"], "outputs": [H264_240]})
    assert sub.status_code == 202, sub.text
    job = api.wait(sub.json()["id"], timeout=120)
    assert job["status"] == "completed", job
    assert job["input_metadata"]["width"] == 1280 and abs(job["input_metadata"]["duration_ms"] - 6000) < 250
    assert job["outputs"][0]["height"] == 480


def test_another_organizations_upload_is_not_found(api: Api, other_api: Api, clips: dict[str, Path]) -> None:
    clip = clips["small"]
    ticket = create_upload(api, clip)
    assert httpx.put(ticket["url"], content=clip.read_bytes(), timeout=30).status_code == 200
    resp = other_api.http.post("/v1/jobs", json={"input_url": ticket["input_url"], "outputs": [H264_240]})
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not-found"
    unknown = api.http.post("/v1/jobs", json={"input_url": "upload://up_" + "x" * 32, "outputs": [H264_240]})
    assert unknown.status_code == 404


def test_tampered_expired_and_foreign_tokens_are_refused(api: Api, clips: dict[str, Path]) -> None:
    clip = clips["small"]
    ticket = create_upload(api, clip)
    url = ticket["url"]
    token = url.split("token=", 1)[1]
    payload, mac = token.split(".")
    tampered = url.replace(token, f"{payload}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}")
    resp = httpx.put(tampered, content=b"x", timeout=10)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "invalid-token"
    assert httpx.head(tampered, timeout=10).status_code == 403

    # A token signed with the server's secret, but expired a minute ago.
    expired = sign_upload(UploadGrant(ORG, ticket["upload_id"], int(time.time()) - 60), SECRET)
    resp = httpx.put(url.replace(token, expired), content=b"x", timeout=10)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "token-expired"

    # A valid token of another upload does not open this one.
    other = create_upload(api, clip)
    other_token = other["url"].split("token=", 1)[1]
    resp = httpx.put(url.replace(token, other_token), content=b"x", timeout=10)
    assert resp.status_code == 403
    assert offset(ticket) == 0  # nothing was written by any of them


def test_sizes_above_the_limit_or_the_declaration_are_413(api: Api, clips: dict[str, Path]) -> None:
    resp = api.http.post("/v1/uploads", json={"filename": "big.mp4", "size": MAX_UPLOAD + 1})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too-large"

    ticket = create_upload(api, clips["small"], size=1000)
    resp = httpx.put(ticket["url"], content=b"\0" * 5000, timeout=10)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too-large"
    assert offset(ticket) == 0  # the overflowing upload was discarded
    resp = put_part(ticket, b"\0" * 10, 995, 1000)  # a part ending past the declared size
    assert resp.status_code == 413


def test_input_url_scheme_must_be_one_of_the_allowed(api: Api) -> None:
    for url in (
        "ftp://example.com/a.mp4",
        "file:///etc/passwd",
        "data:video/mp4;base64,AAAA",
        "upload://../x",
    ):
        resp = api.http.post("/v1/jobs", json={"input_url": url, "outputs": [H264_240]})
        assert resp.status_code == 400, (url, resp.text)
        message = resp.json()["error"]["message"]
        assert message.startswith("input_url"), message
        if not url.startswith("upload"):
            for scheme in ("https://", "http://", "s3://", "gs://", "upload://"):
                assert scheme in message, message


def test_bad_upload_requests_are_400(api: Api) -> None:
    for body in (
        {"filename": "a.mp4"},
        {"filename": "a.mp4", "size": 0},
        {"filename": "", "size": 10},
        {"filename": "a.mp4", "size": 10, "content_type": "not a type"},
        {"filename": "a.mp4", "size": 10, "colour": "blue"},
    ):
        resp = api.http.post("/v1/uploads", json=body)
        assert resp.status_code == 400, (body, resp.text)
    assert httpx.post(f"{api.base_url}/v1/uploads", json={"filename": "a", "size": 1}).status_code == 401


# ---------------------------------------------------------------- memory ----------------------------------

BIG = 320 * 1024 * 1024
BLOCK = os.urandom(1024 * 1024)


def big_body(total: int = BIG) -> Iterator[bytes]:
    """`total` bytes made on the fly (incompressible, every MiB different), so the test holds none of it."""
    for i in range(total // len(BLOCK)):
        yield i.to_bytes(8, "big") + BLOCK[8:]


def peak_rss(pid: int) -> int:
    """Peak resident memory of a process (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def big_api(temporal: Stack, tmp_path: Path) -> Iterator[tuple[Stack, Api]]:
    """An API alone (nothing here needs a worker) that accepts uploads up to 1 GiB."""
    s = new_stack(
        temporal, tmp_path / "stack", f"recast-big-{tmp_path.name}", RECAST_MAX_UPLOAD_BYTES=str(1 << 30)
    )
    port = free_port()
    s.start_api("127.0.0.1", port)
    yield s, Api(f"http://127.0.0.1:{port}")
    s.stop()


def test_large_files_stream_through_the_api(big_api: tuple[Stack, Api], tmp_path: Path) -> None:
    stack, api = big_api
    pid = stack.procs["api"].pid
    # Warm up every route once so imports and first-use allocations are in the baseline.
    ticket = api.http.post("/v1/uploads", json={"filename": "big.bin", "size": BIG}).json()
    assert (
        httpx.put(ticket["url"], content=b"warm", headers={"Content-Range": f"bytes 0-3/{BIG}"}).status_code
        == 200
    )
    baseline = peak_rss(pid)
    budget = 96 * 1024 * 1024  # well under a third of the file

    started = time.monotonic()
    resp = httpx.put(ticket["url"], content=big_body(), timeout=120)  # restarts the upload from byte 0
    assert resp.status_code == 200, resp.text
    assert resp.json()["complete"] is True
    after_upload = peak_rss(pid)
    assert after_upload - baseline < budget, f"upload grew peak RSS by {(after_upload - baseline) >> 20} MiB"

    # The same bytes back through the gateway's signed file route, streamed.
    key = f"{ORG}/uploads/{ticket['upload_id']}/data/big.bin"
    grant = FileGrant(
        ORG, "job_x", "out_x", key, "big.bin", "application/octet-stream", int(time.time()) + 60
    )
    digest, got = hashlib.sha256(), 0
    with httpx.stream("GET", f"{api.base_url}/v1/files/{sign(grant, SECRET)}", timeout=120) as down:
        assert down.status_code == 200
        for chunk in down.iter_bytes(1024 * 1024):
            digest.update(chunk)
            got += len(chunk)
    expected = hashlib.sha256()
    for chunk in big_body():
        expected.update(chunk)
    assert got == BIG and digest.digest() == expected.digest()
    after_download = peak_rss(pid)
    assert after_download - baseline < budget, (
        f"download grew peak RSS by {(after_download - baseline) >> 20} MiB"
    )

    # And a multipart submission of the same size (refused after streaming: it has no outputs part).
    boundary = "recastboundary"

    def form() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        yield from big_body()
        yield f"\r\n--{boundary}--\r\n".encode()

    resp = httpx.post(
        f"{api.base_url}/v1/jobs",
        content=form(),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=120,
    )
    assert resp.status_code == 400 and "outputs" in json.loads(resp.text)["error"]["message"]
    after_form = peak_rss(pid)
    assert after_form - baseline < budget, f"multipart grew peak RSS by {(after_form - baseline) >> 20} MiB"
    assert time.monotonic() - started < 60


def test_large_inputs_stream_through_the_worker(temporal: Stack, tmp_path: Path) -> None:
    """A worker fetching a large input_url streams it into storage; its peak memory stays far below the
    file's size (the file is not media, so the job then fails at probe, which is fine here)."""
    big = tmp_path / "www" / "big.mp4"
    big.parent.mkdir()
    with big.open("wb") as fh:
        for chunk in big_body():
            fh.write(chunk)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(big.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s = new_stack(
        temporal, tmp_path / "stack", f"recast-bigfetch-{tmp_path.name}", RECAST_MAX_UPLOAD_BYTES=str(1 << 30)
    )
    try:
        worker = s.start_worker()
        port = free_port()
        s.start_api("127.0.0.1", port)
        api = Api(f"http://127.0.0.1:{port}")
        # Warm the worker up on a small input first, so imports and first-use allocations are in the baseline.
        small = tmp_path / "www" / "small.mp4"
        small.write_bytes(b"\0" * 4096)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        warm = api.http.post("/v1/jobs", json={"input_url": f"{url}/small.mp4", "outputs": [H264_240]})
        api.wait(warm.json()["id"], timeout=60)
        baseline = peak_rss(worker.pid)
        job = api.http.post("/v1/jobs", json={"input_url": f"{url}/big.mp4", "outputs": [H264_240]})
        done = api.wait(job.json()["id"], timeout=120)
        assert done["input"]["size"] == BIG  # the whole file arrived in storage
        grown = peak_rss(worker.pid) - baseline
        assert grown < 96 * 1024 * 1024, f"fetching grew the worker's peak RSS by {grown >> 20} MiB"
    finally:
        s.stop()
        server.shutdown()
