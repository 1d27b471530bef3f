"""S3 storage end to end, against an S3-compatible server on loopback (moto in server mode).

A Recast worker and API of their own run with `RECAST_STORAGE_URL=s3://…`: inputs are uploaded with a
pre-signed PUT or streamed by the API into the bucket, the worker downloads the input to scratch,
encodes and streams the rendition back, and outputs are downloaded through pre-signed GETs straight
from the store. `s3://` input URLs are read with the configured credentials.

moto does not enforce the expiry of pre-signed URLs (it checks neither `X-Amz-Expires` nor the query
signature; see moto/s3/responses.py), so expiry is checked the way S3 and MinIO check it: the URL's
SigV4 query signature is recomputed from the secret key, and it covers `X-Amz-Date` and
`X-Amz-Expires` — a URL whose lifetime is changed no longer matches its signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import httpx
import pytest

from recast.client import Recast
from recast.devstack.stack import Stack, free_port
from recast.infra.config import Settings
from recast.infra.storage import Storage
from tests.helpers import API_KEY, OTHER_ORG, Api, ffprobe, moto_s3, new_stack, receiving, stream

BUCKET, PREFIX, INPUTS = "recast-media", "tenants", "customer-inputs"
ACCESS_KEY, SECRET_KEY, REGION = "recast-test-access", "recast-test-secret", "us-east-1"
URL_TTL = 600
H264_480 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the storage bucket and a customer's input bucket."""
    with moto_s3(tmp_path_factory.mktemp("moto"), (BUCKET, INPUTS)) as endpoint:
        yield endpoint


def s3_env(endpoint: str) -> dict[str, str]:
    return {
        "RECAST_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
        "RECAST_S3_ENDPOINT": endpoint,
        "RECAST_S3_REGION": REGION,
        "RECAST_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "RECAST_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "RECAST_URL_TTL": str(URL_TTL),
    }


@pytest.fixture(scope="module")
def s3_stack(temporal: Stack, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = new_stack(temporal, tmp_path_factory.mktemp("s3stack"), "recast-s3-tests", **s3_env(s3_endpoint))
    s.start_worker()
    port = free_port()
    s.start_api("127.0.0.1", port)
    s.env["API_URL"] = f"http://127.0.0.1:{port}"
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3_api(s3_stack: Stack) -> Api:
    return Api(s3_stack.env["API_URL"])


def storage_for(endpoint: str) -> Storage:
    settings = Settings(
        s3_endpoint=endpoint, s3_region=REGION, s3_access_key_id=ACCESS_KEY, s3_secret_access_key=SECRET_KEY
    )
    return Storage(f"s3://{BUCKET}/{PREFIX}", settings)


def check_presigned_file(url: str, dest: Path, endpoint: str) -> httpx.Response:
    """GET a download URL as a client would (no API key), and keep the file."""
    assert url.startswith(f"{endpoint}/{BUCKET}/{PREFIX}/acme/"), url  # the store, under the org's prefix
    assert "X-Amz-Signature=" in url
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text[:300]
    dest.write_bytes(resp.content)
    return resp


def test_upload_encode_download_through_presigned_urls(
    s3_api: Api, s3_stack: Stack, s3_endpoint: str, clips: dict[str, Path], tmp_path: Path
) -> None:
    clip = clips["long720"]
    resp = s3_api.http.post(
        "/v1/uploads", json={"filename": clip.name, "size": clip.stat().st_size, "content_type": "video/mp4"}
    )
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    # A pre-signed PUT straight to the store: the bytes never pass through Recast.
    assert ticket["url"].startswith(f"{s3_endpoint}/{BUCKET}/{PREFIX}/acme/uploads/{ticket['upload_id']}/")
    assert ticket["method"] == "PUT" and ticket["resumable"] is False
    put = httpx.request(ticket["method"], ticket["url"], content=clip.read_bytes(), headers=ticket["headers"])
    assert put.status_code == 200, put.text

    sub = s3_api.http.post("/v1/jobs", json={"input_url": ticket["input_url"], "outputs": [H264_480]})
    assert sub.status_code == 202, sub.text
    job = s3_api.wait(sub.json()["id"], timeout=120)
    assert job["status"] == "completed", job
    out = job["outputs"][0]

    # The URL the finished job carries, and the one the download route signs anew: both pre-signed.
    for url in (
        out["download_url"],
        s3_api.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download").json()["url"],
    ):
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == [str(URL_TTL)]  # RECAST_URL_TTL
        dest = tmp_path / "out.mp4"
        got = check_presigned_file(url, dest, s3_endpoint)
        assert got.headers["content-type"] == "video/mp4"
        assert got.headers["content-disposition"] == f'attachment; filename="{out["filename"]}"'
        data = ffprobe(dest)
        video = stream(data, "video")
        assert video and video["codec_name"] == "h264" and video["height"] == 480
        assert abs(float(data["format"]["duration"]) - 6.0) < 0.25
    # Nothing went to the stack's local disk: storage is the bucket.
    assert not (s3_stack.data_dir / "storage").exists()


def test_multipart_submission_streams_into_the_bucket(
    s3_api: Api, s3_endpoint: str, clips: dict[str, Path], tmp_path: Path
) -> None:
    job = s3_api.wait(s3_api.submit(clips["small"], [H264_480])["id"], timeout=90)
    assert job["status"] == "completed", job
    link = s3_api.http.get(f"/v1/jobs/{job['id']}/outputs/{job['outputs'][0]['id']}/download").json()
    check_presigned_file(link["url"], tmp_path / "small.mp4", s3_endpoint)
    video = stream(ffprobe(tmp_path / "small.mp4"), "video")
    assert video and video["height"] == 360  # 640x360 input: never upscaled


def test_s3_input_url_is_read_with_the_configured_credentials(
    s3_api: Api, s3_endpoint: str, clips: dict[str, Path]
) -> None:
    clip = clips["small"]
    httpx.put(f"{s3_endpoint}/{INPUTS}/clips/small.mp4", content=clip.read_bytes()).raise_for_status()
    sub = s3_api.http.post(
        "/v1/jobs", json={"input_url": f"s3://{INPUTS}/clips/small.mp4", "outputs": [H264_480]}
    )
    assert sub.status_code == 202, sub.text
    job = s3_api.wait(sub.json()["id"], timeout=90)
    assert job["status"] == "completed", job
    assert job["input"]["size"] == clip.stat().st_size
    assert job["input_metadata"]["width"] == 640

    missing = s3_api.http.post(
        "/v1/jobs", json={"input_url": f"s3://{INPUTS}/clips/nope.mp4", "outputs": [H264_480]}
    )
    job = s3_api.wait(missing.json()["id"], timeout=60)
    assert job["status"] == "failed" and job["error_code"] == "input-unreachable", job
    assert "nope.mp4" in job["error_message"]

    # Recast's own bucket holds every organization's files: another organization's are off limits.
    foreign = f"s3://{BUCKET}/{PREFIX}/{OTHER_ORG}/jobs/job_x/input/a.mp4"
    resp = s3_api.http.post("/v1/jobs", json={"input_url": foreign, "outputs": [H264_480]})
    assert resp.status_code == 400 and "outside your organization" in resp.json()["error"]["message"]


def test_presigned_upload_of_more_than_declared_is_refused(s3_api: Api) -> None:
    ticket = s3_api.http.post("/v1/uploads", json={"filename": "a.mp4", "size": 100}).json()
    # The store takes a pre-signed PUT of any length; the job refuses what does not match.
    assert httpx.put(ticket["url"], content=b"\0" * 5000, headers=ticket["headers"]).status_code == 200
    resp = s3_api.http.post("/v1/jobs", json={"input_url": ticket["input_url"], "outputs": [H264_480]})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too-large"
    short = s3_api.http.post("/v1/uploads", json={"filename": "b.mp4", "size": 100}).json()
    assert httpx.put(short["url"], content=b"\0" * 10, headers=short["headers"]).status_code == 200
    resp = s3_api.http.post("/v1/jobs", json={"input_url": short["input_url"], "outputs": [H264_480]})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "upload-incomplete"


def sigv4_query_signature(method: str, url: str, secret_key: str) -> str:
    """The AWS SigV4 signature of a pre-signed URL, computed as S3 verifies it (query auth, host
    header signed, unsigned payload)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(params)
        if k != "X-Amz-Signature"
    )
    canonical = "\n".join([method, parts.path, query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"])
    fields = dict(params)
    scope = fields["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", fields["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_presigned_url_expiry_is_signed(s3_endpoint: str) -> None:
    storage = storage_for(s3_endpoint)

    async def make() -> str | None:
        await storage.op.write("acme/expiry/a.bin", b"hello")
        return await storage.download_url("acme/expiry/a.bin", "a.bin", "application/octet-stream", 2)

    url = asyncio.run(make())
    assert url is not None
    fields = dict(parse_qsl(urlsplit(url).query))
    assert fields["X-Amz-Expires"] == "2"
    signed_at = datetime.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 5
    assert (
        fields["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/")
        and f"/{REGION}/s3/" in fields["X-Amz-Credential"]
    )
    # The signature covers date and lifetime: the store refuses the URL once date + 2 s has passed,
    # and a URL whose lifetime was stretched no longer matches its signature.
    assert sigv4_query_signature("GET", url, SECRET_KEY) == fields["X-Amz-Signature"]
    stretched = url.replace("X-Amz-Expires=2&", "X-Amz-Expires=3600&")
    assert stretched != url
    assert sigv4_query_signature("GET", stretched, SECRET_KEY) != fields["X-Amz-Signature"]
    resp = httpx.get(url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"hello"


def test_sdk_and_the_webhook_log_on_s3(s3_stack: Stack, clips: dict[str, Path], tmp_path: Path) -> None:
    """The SDK's upload is a pre-signed PUT of a streamed body (its length sent up front) and its
    download a pre-signed GET, neither with the API key; the delivery log lives in the bucket."""
    with receiving() as receiver, Recast(s3_stack.env["API_URL"], API_KEY) as client:
        sent: list[int] = []
        job = client.submit(
            clips["small"], [H264_480], on_upload=lambda s, t: sent.append(s), webhook_url=receiver.url
        )
        assert sent[-1] == clips["small"].stat().st_size
        done = client.wait(job.id)
        assert done.status == "completed"
        [path] = client.download(done, tmp_path)
        video = stream(ffprobe(path), "video")
        assert video and video["codec_name"] == "h264" and video["height"] == 360
        deadline = time.monotonic() + 30
        while (
            not (log := client.webhooks(job.id)) or any(d.state != "delivered" for d in log) or len(log) < 4
        ):
            assert time.monotonic() < deadline, log
            time.sleep(0.2)
        assert {d.event for d in log} == {"job.status_changed", "output.completed"}
        assert all(d.attempts == 1 and d.response_status == 200 for d in log)
