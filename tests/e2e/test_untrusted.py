"""Untrusted request bodies and tokens: unknown fields, sizes, string limits, hostile upload filenames,
Content-Disposition, and signing-secret rotation."""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from api.multipart_stream import MAX_FIELDS
from api.services.submission import MAX_JSON_BYTES
from recast.devstack.stack import Stack, free_port
from recast.infra import signing
from tests.helpers import SECRET, Api, request_models

MP4 = [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p"}}]
URL = "http://127.0.0.1:1/x.mp4"


def error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


# ---------------------------------------------------------------- request models --------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"input_url": URL, "outputs": [{"type": "mp4", "video": {"codec": "h264"}, "crf": 1}]}, "crf"),
        (
            {"input_url": URL, "outputs": [{"type": "mp4", "video": {"codec": "h264", "bitrate": "9M"}}]},
            "bitrate",
        ),
        ({"input_url": "http://x/" + "a" * 4096, "outputs": MP4}, "input_url"),
        ({"input_url": URL, "outputs": MP4, "webhook_url": "http://x/" + "a" * 4096}, "webhook_url"),
        ({"input_url": URL, "outputs": MP4, "webhook_secret": "s" * 257}, "webhook_secret"),
        ({"input_url": URL, "outputs": MP4, "idempotency_key": "k" * 129}, "idempotency_key"),
        ({"input_url": URL, "outputs": MP4, "output_path_template": "p" * 513}, "output_path_template"),
        ({"input_url": URL, "outputs": MP4, "metadata": {"k": "v" * 1025}}, "metadata"),
        ({"input_url": URL, "outputs": MP4, "metadata": {"k" * 65: "v"}}, "metadata"),
        ({"input_url": URL, "outputs": MP4 * 11}, "outputs"),
    ],
)
def test_unknown_nested_fields_and_long_strings_are_400(api: Api, body: dict[str, Any], names: str) -> None:
    assert names in error(api.http.post("/v1/jobs", json=body), 400, "invalid-input")


def test_unpaired_surrogate_is_400(api: Api) -> None:
    # Valid JSON that Python parses, but no UTF-8 text holds: hashing the key would have failed (500).
    body = json.dumps({"input_url": URL, "outputs": MP4, "idempotency_key": "k\udb05"})
    assert "\\udb05" in body
    resp = api.http.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert "surrogate" in error(resp, 400, "invalid-input")
    transcodely = api.http.post(
        "/transcodely.v1.JobService/Create", content=body, headers={"Content-Type": "application/json"}
    )
    assert transcodely.status_code == 400, transcodely.text
    assert transcodely.json()["code"] == "invalid_argument"  # Connect's error shape on its routes
    assert "surrogate" in transcodely.json()["message"]


def test_unknown_upload_field_is_400(api: Api) -> None:
    if len(request_models()) < 2:
        pytest.skip("no upload route")
    body = {"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "acl": "public-read"}
    assert "acl" in error(api.http.post("/v1/uploads", json=body), 400, "invalid-input")


def test_oversize_json_is_413(api: Api) -> None:
    body = json.dumps({"input_url": URL, "outputs": MP4, "metadata": {"k": "v" * MAX_JSON_BYTES}})
    # Sent chunked, without Content-Length: the limit holds while reading, not only on the header.
    resp = api.http.post(
        "/v1/jobs", content=iter([body.encode()]), headers={"Content-Type": "application/json"}
    )
    assert str(MAX_JSON_BYTES) in error(resp, 413, "too-large")


def test_multipart_field_count_and_header_size_are_bounded(api: Api) -> None:
    fields = {f"f{i}": "x" for i in range(MAX_FIELDS + 1)}
    error(api.http.post("/v1/jobs", data=fields, files={"media": ("a.mp4", b"x")}), 413, "too-large")
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="{"a" * 20000}.mp4"\r\n\r\n'
        f"x\r\n--{boundary}--\r\n"
    ).encode()
    resp = api.http.post(
        "/v1/jobs", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert "header" in error(resp, 400, "invalid-input")


# ---------------------------------------------------------------- filenames -------------------------------


def raw_upload(api: Api, clip: Path, filename: str) -> httpx.Response:
    """A multipart upload whose filename bytes are exactly `filename` in UTF-8, as a hostile client
    would write them (httpx would escape some of them)."""
    boundary = "r3castb0undary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="outputs"\r\n\r\n{json.dumps(MP4)}\r\n'
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="media"; filename="{filename}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    body = head + clip.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return api.http.post(
        "/v1/jobs", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )


def test_hostile_upload_filename(api: Api, clips: dict[str, Path], stack_storage: Path) -> None:
    """Path, control and bidi characters are gone before the name is stored, shown or sent in a header;
    a non-ASCII name survives and is downloaded as RFC 5987 `filename*` (it was a 500 before)."""
    resp = raw_upload(api, clips["small"], "../../..\\tmp\\evil\x01\x7f\u202e视频.mp4")
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    shown = job["input"]["filename"]
    assert shown == "evil视频.mp4"
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in shown)
    stored = [
        p for p in stack_storage.rglob("*") if job["id"] in str(p) and "input" in p.parts and p.is_file()
    ]
    assert stored and all(p.resolve().is_relative_to(stack_storage.resolve()) for p in stored)

    out = job["outputs"][0]
    link = api.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download").json()
    download = httpx.get(link["url"])
    assert download.status_code == 200, download.text
    disposition = download.headers["content-disposition"]
    assert disposition.isascii() and "\r" not in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == out["filename"]
    assert "视频" in out["filename"]


# ---------------------------------------------------------------- secret rotation -------------------------


@pytest.fixture(scope="module")
def rotated(stack: Stack) -> Iterator[str]:
    """A second API on the shared stack's storage after a rotation: a new secret, the old one previous."""
    s = Stack(
        data_dir=stack.data_dir,
        env={
            **stack.env,
            "RECAST_SIGNING_SECRET": "rotated-secret",
            "RECAST_SIGNING_SECRET_PREVIOUS": f"older-secret, {SECRET}",
        },
        quiet=True,
    )
    port = free_port()
    s.start_api("127.0.0.1", port, name="api-rotated")
    yield f"http://127.0.0.1:{port}"
    s.stop()


def test_rotation_keeps_old_tokens_and_signs_new_ones_with_the_new_secret(
    api: Api, rotated: str, clips: dict[str, Path]
) -> None:
    job = api.wait(api.submit(clips["small"], MP4)["id"])
    out = job["outputs"][0]["id"]
    old_url = api.http.get(f"/v1/jobs/{job['id']}/outputs/{out}/download").json()["url"]
    old_token = old_url.rsplit("/", 1)[1]
    before = httpx.get(old_url).content

    # A token signed before the rotation still downloads, from the rotated API.
    resp = httpx.get(f"{rotated}/v1/files/{old_token}")
    assert resp.status_code == 200 and resp.content == before

    # New tokens are signed with the new secret only.
    rotated_api = Api(rotated)
    new_url = rotated_api.http.get(f"/v1/jobs/{job['id']}/outputs/{out}/download").json()["url"]
    new_token = new_url.rsplit("/", 1)[1]
    assert signing.verify(new_token, "rotated-secret").job_id == job["id"]
    with pytest.raises(signing.TokenError):
        signing.verify(new_token, SECRET)
    assert httpx.get(new_url).content == before
    # ...so the API that does not know the new secret refuses them.
    error(httpx.get(f"{api.base_url}/v1/files/{new_token}"), 403, "invalid-token")

    # A token signed with a secret neither API knows is refused.
    grant = signing.verify(old_token, SECRET)
    forged = signing.sign(grant, "unknown-secret")
    error(httpx.get(f"{rotated}/v1/files/{forged}"), 403, "invalid-token")
    # An expired token signed with a previous secret is expired, not valid.
    expired = signing.sign(signing.FileGrant(**{**grant.__dict__, "expires": int(time.time()) - 1}), SECRET)
    error(httpx.get(f"{rotated}/v1/files/{expired}"), 403, "token-expired")
