"""tus uploads (`/v1/tus/`) on local storage: the official tus-js-client (npm, run by node) uploads a
clip, is paused midway and resumed by a new client from the server's offset, and the upload is a job's
`upload://` input; then the protocol's answers a tus client relies on (discovery, versions, offsets,
limits, organizations, termination), sent by hand. The same on S3: tests/e2e/test_web_s3.py."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

from tests.helpers import API_KEY, MAX_UPLOAD, Api, stream
from tests.helpers.js import tus_upload

TUS = {"Tus-Resumable": "1.0.0"}
H264_480 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}


def create(api: Api, length: int, metadata: str = "filename c21hbGwubXA0") -> httpx.Response:
    return api.http.post(
        "/v1/tus/", headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata}
    )


def patch(api: Api, url: str, offset: int, body: bytes, **headers: str) -> httpx.Response:
    sent = {**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers}
    return api.http.patch(url, content=body, headers=sent)


def test_tus_js_client_pauses_resumes_and_the_upload_is_a_job_input(
    api: Api, clips: dict[str, Path], stack_storage: Path, tmp_path: Path
) -> None:
    clip = clips["small"]
    size = clip.stat().st_size
    with tus_upload(f"{api.base_url}/v1/tus/", API_KEY, clip, chunk_size=size // 5 + 1) as run:
        paused = run.step()
        url, offset = paused["url"], paused["offset"]
        assert url.startswith(f"{api.base_url}/v1/tus/up_")
        # Paused: the server has exactly what the client says it sent, and no more.
        head = api.http.head(url, headers=TUS)
        assert head.status_code == 200 and head.headers["tus-resumable"] == "1.0.0"
        assert int(head.headers["upload-offset"]) == offset and size / 2 <= offset < size
        assert int(head.headers["upload-length"]) == size and "upload-expires" in head.headers
        upload_id = url.rsplit("/", 1)[-1]
        early = api.http.post("/v1/jobs", json={"input_url": f"upload://{upload_id}", "outputs": [H264_480]})
        assert early.status_code == 409 and early.json()["error"]["code"] == "upload-incomplete"
        run.resume()
        assert run.step() == {"step": "done", "url": url, "offset": size}

    head = api.http.head(url, headers=TUS)
    assert (head.headers["upload-offset"], head.headers["upload-length"]) == (str(size), str(size))
    stored = list((stack_storage / "acme" / "uploads" / upload_id / "data").iterdir())
    assert [p.name for p in stored] == ["small.mp4"]  # named by the metadata the client sent
    assert stored[0].read_bytes() == clip.read_bytes()

    sub = api.http.post("/v1/jobs", json={"input_url": f"upload://{upload_id}", "outputs": [H264_480]})
    assert sub.status_code == 202, sub.text
    job = api.wait(sub.json()["id"])
    assert job["status"] == "completed", job
    assert job["input"]["size"] == size and job["input"]["filename"] == "small.mp4"
    video = stream(api.fetch_output(job, 0, tmp_path / "out.mp4"), "video")
    assert video and video["height"] == 360  # a 360p input is never upscaled


def test_tus_termination_by_the_client(api: Api, clips: dict[str, Path]) -> None:
    clip = clips["small"]
    endpoint = f"{api.base_url}/v1/tus"  # without the slash: tus clients are given it either way
    with tus_upload(endpoint, API_KEY, clip, chunk_size=clip.stat().st_size // 3 + 1, terminate=True) as run:
        url = run.step()["url"]
        run.resume()
        run.step()
        assert run.step() == {"step": "terminated", "url": url}
    assert api.http.head(url, headers=TUS).status_code == 404
    sub = api.http.post(
        "/v1/jobs", json={"input_url": f"upload://{url.rsplit('/', 1)[-1]}", "outputs": [H264_480]}
    )
    assert sub.status_code == 404


def test_discovery_and_creation(api: Api) -> None:
    options = httpx.options(f"{api.base_url}/v1/tus/")  # no key needed to ask what is supported
    assert options.status_code == 204
    assert options.headers["tus-version"] == "1.0.0"
    assert set(options.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}
    assert options.headers["tus-max-size"] == str(MAX_UPLOAD)

    made = create(api, 1000, "filename dmlkw6lvLm1wNA==,filetype dmlkZW8vbXA0,empty")  # "vidéo.mp4"
    assert made.status_code == 201, made.text
    assert made.headers["location"] == made.json()["location"]
    assert made.headers["tus-resumable"] == "1.0.0" and made.headers["upload-offset"] == "0"
    assert made.json()["input_url"] == f"upload://{made.json()['upload_id']}"
    head = api.http.head(made.headers["location"], headers=TUS)  # the metadata comes back as it was sent
    assert head.headers["upload-metadata"] == "filename dmlkw6lvLm1wNA==,filetype dmlkZW8vbXA0,empty"

    assert create(api, MAX_UPLOAD + 1).status_code == 413
    for bad in ({"Upload-Length": "-1"}, {"Upload-Length": "ten"}, {}, {"Upload-Defer-Length": "1"}):
        resp = api.http.post("/v1/tus/", headers={**TUS, **bad})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid-input", (bad, resp.text)
    assert create(api, 10, "filename !!notbase64").status_code == 400
    # Protocol version and key, on every request but OPTIONS.
    wrong = api.http.post("/v1/tus/", headers={"Tus-Resumable": "0.2.2", "Upload-Length": "10"})
    assert wrong.status_code == 412 and wrong.headers["tus-version"] == "1.0.0"
    assert api.http.post("/v1/tus/", headers={"Upload-Length": "10"}).status_code == 412
    anonymous = httpx.post(f"{api.base_url}/v1/tus/", headers={**TUS, "Upload-Length": "10"})
    assert anonymous.status_code == 401 and anonymous.headers["tus-resumable"] == "1.0.0"
    assert create(api, 10, "filename " + "QUFB" * 1100).status_code == 400  # metadata over 4 KiB


def test_offsets_limits_and_organizations(api: Api, other_api: Api) -> None:
    body = bytes(range(256)) * 40  # 10,240 bytes
    url = create(api, len(body)).headers["location"]
    assert patch(api, url, 0, body[:4000]).headers["upload-offset"] == "4000"
    # Not where the upload stands: 409 with where it does.
    stale = patch(api, url, 0, body[:10])
    assert stale.status_code == 409 and stale.headers["upload-offset"] == "4000"
    assert stale.json()["error"]["code"] == "offset-mismatch"
    assert (
        patch(api, url, 4000, body[4000:], **{"Content-Type": "application/octet-stream"}).status_code == 415
    )
    assert patch(api, url, 4000, body[4000:] + b"extra").status_code == 413  # past Upload-Length
    assert api.http.head(url, headers=TUS).headers["upload-offset"] == "4000"  # nothing of it kept

    # Another organization's key finds no such upload, and cannot use it as an input.
    assert other_api.http.head(url, headers=TUS).status_code == 404
    assert patch(other_api, url, 4000, body[4000:]).status_code == 404
    assert other_api.http.delete(url, headers=TUS).status_code == 404
    upload_id = url.rsplit("/", 1)[-1]
    foreign = other_api.http.post(
        "/v1/jobs", json={"input_url": f"upload://{upload_id}", "outputs": [H264_480]}
    )
    assert foreign.status_code == 404

    # tus-js-client's overridePatchMethod: a POST that says it is a PATCH.
    override = {**TUS, "Upload-Offset": "4000", "Content-Type": "application/offset+octet-stream"}
    moved = api.http.post(
        url, content=body[4000:5000], headers={**override, "X-HTTP-Method-Override": "PATCH"}
    )
    assert moved.status_code == 204 and moved.headers["upload-offset"] == "5000"
    assert api.http.post(url, content=b"", headers=TUS).status_code == 405
    done = patch(api, url, 5000, body[5000:])
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(body))
    assert patch(api, url, len(body), b"").status_code == 204  # an empty PATCH at the end is harmless
    # An upload made with POST /v1/uploads is not a tus upload.
    plain = api.http.post("/v1/uploads", json={"filename": "a.mp4", "size": 10}).json()
    assert api.http.head(f"{api.base_url}/v1/tus/{plain['upload_id']}", headers=TUS).status_code == 404
    assert api.http.delete(url, headers=TUS).status_code == 204
    assert api.http.head(url, headers=TUS).status_code == 404


def test_metadata_names_the_input(api: Api, clips: dict[str, Path]) -> None:
    data = clips["silent"].read_bytes()
    name = base64.b64encode(b"clip one.mp4").decode()
    url = create(api, len(data), f"name {name},type dmlkZW8vbXA0").headers["location"]
    assert patch(api, url, 0, data).status_code == 204
    sub = api.http.post(
        "/v1/jobs", json={"input_url": f"upload://{url.rsplit('/', 1)[-1]}", "outputs": [H264_480]}
    )
    assert sub.status_code == 202, sub.text
    assert sub.json()["input"]["filename"] == "clip one.mp4"
