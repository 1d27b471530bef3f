"""Every error the API returns: status, `{"error": {"code", "message"}}` body, and the field it names."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from recast.infra import signing
from tests.helpers import MAX_UPLOAD, SECRET, Api

MP4 = [{"type": "mp4", "video": [{"codec": "h264", "resolution": "480p"}]}]


def error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message
    return message


def test_no_key_or_wrong_key_is_401(api: Api) -> None:
    url = f"{api.base_url}/v1/jobs/job_x"
    error(httpx.get(url), 401, "unauthorized")
    error(httpx.get(url, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    error(httpx.get(url, headers={"Authorization": "Basic dGVzdA=="}), 401, "unauthorized")
    error(httpx.post(f"{api.base_url}/v1/jobs", json={}), 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"input_url": "http://127.0.0.1:1/x.mp4"}, "outputs"),
        ({"input_url": "http://127.0.0.1:1/x.mp4", "outputs": []}, "outputs"),
        (
            {
                "input_url": "http://127.0.0.1:1/x.mp4",
                "outputs": [{"type": "mp4", "video": {"codec": "h263"}}],
            },
            "outputs[0].video[0].codec",
        ),
        (
            {
                "input_url": "http://127.0.0.1:1/x.mp4",
                "outputs": [{"type": "webm", "video": {"codec": "h264"}}],
            },
            "allowed: vp9",
        ),
        (
            {
                "input_url": "http://127.0.0.1:1/x.mp4",
                "outputs": [{"type": "mp4", "video": {"codec": "h264", "resolution": "4k"}}],
            },
            "resolution",
        ),
        (
            {
                "input_url": "http://127.0.0.1:1/x.mp4",
                "outputs": [{"type": "avi", "video": {"codec": "h264"}}],
            },
            "outputs[0].type",
        ),
        ({"input_url": "ftp://example.com/x.mp4", "outputs": MP4}, "input_url"),
        ({"input_url": "file:///etc/passwd", "outputs": MP4}, "input_url"),
        ({"outputs": MP4}, "media"),
        ({"input_url": "http://127.0.0.1:1/x.mp4", "outputs": MP4, "colour": "blue"}, "colour"),
    ],
)
def test_invalid_json_jobs_are_400_naming_the_field(api: Api, body: dict[str, object], names: str) -> None:
    message = error(api.http.post("/v1/jobs", json=body), 400, "invalid-input")
    assert names in message


def test_malformed_bodies_are_400(api: Api) -> None:
    error(
        api.http.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "invalid-input",
    )
    error(api.http.post("/v1/jobs", json=[1, 2]), 400, "invalid-input")
    error(
        api.http.post("/v1/jobs", content=b"x", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
    )


def test_multipart_without_media_or_outputs_is_400(api: Api, clips: dict[str, Path]) -> None:
    message = error(
        api.http.post("/v1/jobs", data={"outputs": json.dumps(MP4)}, files={"other": b"x"}),
        400,
        "invalid-input",
    )
    assert "media" in message
    with clips["small"].open("rb") as fh:
        message = error(api.http.post("/v1/jobs", files={"media": ("a.mp4", fh)}), 400, "invalid-input")
    assert "outputs" in message
    with clips["small"].open("rb") as fh:
        message = error(
            api.http.post("/v1/jobs", files={"media": ("a.mp4", fh)}, data={"outputs": "[{"}),
            400,
            "invalid-input",
        )
    assert "outputs" in message


def test_refused_upload_leaves_nothing_in_storage(
    api: Api, clips: dict[str, Path], stack_storage: Path
) -> None:
    before = set(stack_storage.rglob("*"))
    with clips["small"].open("rb") as fh:
        bad = [{"type": "webm", "video": {"codec": "h264"}}]
        error(
            api.http.post("/v1/jobs", files={"media": ("a.mp4", fh)}, data={"outputs": json.dumps(bad)}),
            400,
            "invalid-input",
        )
    assert {p for p in stack_storage.rglob("*") if p.is_file()} <= before


def test_upload_over_the_limit_is_413(api: Api, tmp_path: Path, stack_storage: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (MAX_UPLOAD + 1024))
    message = error(api.upload(big, MP4), 413, "too-large")
    assert str(MAX_UPLOAD) in message
    assert not [p for p in stack_storage.rglob("big.mp4")], "the refused upload was kept"


def test_unknown_job_and_output_are_404(api: Api, clips: dict[str, Path]) -> None:
    error(api.http.get("/v1/jobs/job_doesnotexist"), 404, "not-found")
    error(api.http.get("/v1/jobs/not-a-job-id"), 404, "not-found")
    error(api.http.get("/v1/nothing-here"), 404, "not-found")
    job = api.wait(api.submit(clips["small"], MP4)["id"])
    error(api.http.get(f"/v1/jobs/{job['id']}/outputs/out_nope/download"), 404, "not-found")


def test_other_organizations_job_is_404(api: Api, other_api: Api, clips: dict[str, Path]) -> None:
    job = api.submit(clips["small"], MP4)
    error(other_api.http.get(f"/v1/jobs/{job['id']}"), 404, "not-found")
    done = api.wait(job["id"])
    out = done["outputs"][0]["id"]
    error(other_api.http.get(f"/v1/jobs/{job['id']}/outputs/{out}/download"), 404, "not-found")


def test_download_before_done_is_409(api: Api, clips: dict[str, Path]) -> None:
    job = api.submit(clips["long720"], [{"type": "webm", "video": {"codec": "vp9"}}])
    message = error(
        api.http.get(f"/v1/jobs/{job['id']}/outputs/{job['outputs'][0]['id']}/download"), 409, "not-ready"
    )
    assert "not completed" in message
    api.wait(job["id"])


def test_tampered_or_expired_file_token_is_403(api: Api, clips: dict[str, Path]) -> None:
    done = api.wait(api.submit(clips["small"], MP4)["id"])
    link = api.http.get(f"/v1/jobs/{done['id']}/outputs/{done['outputs'][0]['id']}/download").json()
    assert httpx.get(link["url"]).status_code == 200
    token = link["url"].rsplit("/", 1)[1]
    grant = signing.verify(token, SECRET)
    # Same grant pointing at another object, re-encoded without the secret: the MAC no longer matches.
    payload, mac = token.split(".")
    forged = signing.sign(
        signing.FileGrant(**{**grant.__dict__, "key": "globex/jobs/x/outputs/y.mp4"}), "not-the-secret"
    ).split(".")[0]
    error(httpx.get(f"{api.base_url}/v1/files/{forged}.{mac}"), 403, "invalid-token")
    error(httpx.get(f"{api.base_url}/v1/files/{payload}.{mac[:-2]}xx"), 403, "invalid-token")
    error(httpx.get(f"{api.base_url}/v1/files/garbage"), 403, "invalid-token")
    expired = signing.sign(signing.FileGrant(**{**grant.__dict__, "expires": int(time.time()) - 1}), SECRET)
    error(httpx.get(f"{api.base_url}/v1/files/{expired}"), 403, "token-expired")


def test_openapi_docs_are_served(api: Api) -> None:
    spec = httpx.get(f"{api.base_url}/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/outputs/{output_id}/download"} <= set(
        spec["paths"]
    )
    assert "multipart/form-data" in spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    assert httpx.get(f"{api.base_url}/docs").status_code == 200
