"""Convertly's async jobs document, replayed against Recast (api/compat/convertly.py): each curl example
as the HTTP request it sends, the answers checked field by field against the document's examples, the
outputs probed, and the callback's signature verified as the document defines it.

The document's `sourceUrl` (cdn.example.com) is replaced by a loopback server holding a tiny clip; its
`hero.jpg` by a generated picture; `$CONVERTLY_API_KEY` by the test stack's key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import API_KEY, OTHER_KEY, Api, ffprobe, receiving, second_api, stream

TERMINAL = {"completed", "failed"}


def convertly(api: Api, key: str = API_KEY) -> httpx.Client:
    """A client sending what the document's curl examples send: the key as a bearer token."""
    return httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def poll(client: httpx.Client, job_id: str, timeout: float = 90) -> dict[str, Any]:
    """`curl "https://convertly.sh/api/jobs/{id}" -H "Authorization: Bearer …"` until the job ends."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/api/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        assert job["status"] in {"pending", "processing", "completed", "failed"}, job
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def fetch(url: str, dest: Path) -> dict[str, Any]:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    dest.write_bytes(resp.content)
    return ffprobe(dest)


def test_async_extract_audio_as_documented(api: Api, http_server: str, tmp_path: Path) -> None:
    """The document's async media tool example, then its poll of the job endpoint."""
    with convertly(api) as client:
        resp = client.post(
            "/api/media/extract-audio",
            files={
                "sourceUrl": (None, f"{http_server}/small.mp4"),
                "format": (None, "mp3"),
                "async": (None, "true"),
            },
        )
        assert resp.status_code == 202, resp.text
        body = resp.json()
        # {"jobId": "65f3a673-…", "status": "pending", "tool": "extract-audio"}
        assert set(body) == {"jobId", "status", "tool"}
        assert isinstance(body["jobId"], str) and body["jobId"]
        assert body["status"] == "pending" and body["tool"] == "extract-audio"

        job = poll(client, body["jobId"])
    assert job["status"] == "completed", job
    assert job["jobId"] == body["jobId"] and job["tool"] == "extract-audio"
    assert job["errorMessage"] is None and job["progress"] == 100
    assert (job["totalFiles"], job["completedFiles"], job["failedFiles"]) == (1, 1, 0)
    [result] = job["results"]
    assert result["format"] == "mp3" and result["mimeType"] == "audio/mpeg"
    assert result["finalSize"] > 0 and result["originalSize"] > 0
    probed = fetch(result["downloadUrl"], tmp_path / "audio.mp3")
    assert stream(probed, "video") is None
    audio = stream(probed, "audio")
    assert audio is not None and audio["codec_name"] == "mp3"
    assert 1.5 < float(probed["format"]["duration"]) < 2.5


def test_idempotency_key_returns_the_existing_job(
    api: Api, other_api: Api, pictures: dict[str, Path], tmp_path: Path
) -> None:
    """The document's `POST /api/jobs` example with an Idempotency-Key, sent twice (and once by another
    account): the same key from the same account is the same job, and nothing is queued again."""
    hero = tmp_path / "hero.jpg"
    hero.write_bytes(pictures["jpg"].read_bytes())
    key = f"import-42-image-7-{time.time_ns()}"  # the document's key, made unique per run

    def send(client: httpx.Client) -> httpx.Response:
        with hero.open("rb") as fh:
            return client.post(
                "/api/jobs",
                headers={"Idempotency-Key": key},
                files={
                    "files": ("hero.jpg", fh, "image/jpeg"),
                    "saveToStorage": (None, "true"),
                    "formats": (None, '["webp"]'),
                },
            )

    with convertly(api) as client, convertly(other_api, OTHER_KEY) as other:
        first = send(client)
        assert first.status_code == 202, first.text
        assert set(first.json()) == {"jobId", "status"} and first.json()["status"] == "pending"
        again = send(client)
        assert again.status_code == 200, again.text
        assert again.json()["jobId"] == first.json()["jobId"]
        elsewhere = send(other)
        assert elsewhere.status_code == 202 and elsewhere.json()["jobId"] != first.json()["jobId"]
        job = poll(client, first.json()["jobId"])
        assert poll(other, elsewhere.json()["jobId"])["status"] == "completed"
        # Another account cannot read the first account's job.
        assert other.get(f"/api/jobs/{job['jobId']}").status_code == 404
    assert job["status"] == "completed" and job["jobType"] == "convert", job
    [result] = job["results"]
    assert result["format"] == "webp" and result["mimeType"] == "image/webp"
    assert result["originalSize"] == hero.stat().st_size
    picture = stream(fetch(result["downloadUrl"], tmp_path / "hero.webp"), "video")
    assert picture is not None and picture["codec_name"] == "webp"


def test_callback_signed_as_documented(api: Api, pictures: dict[str, Path]) -> None:
    """callbackUrl and callbackSecret: the callback is signed as HMAC_SHA256(timestamp.body) and the
    signature sent in Convertly-Signature."""
    secret = "cb-secret-42"
    with receiving() as receiver, convertly(api) as client:
        with pictures["png"].open("rb") as fh:
            resp = client.post(
                "/api/jobs",
                files={
                    "files": ("picture.png", fh, "image/png"),
                    "formats": (None, '["jpg", "webp"]'),
                    "compressions": (None, "[70]"),
                    "callbackUrl": (None, receiver.url),
                    "callbackSecret": (None, secret),
                },
            )
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["jobId"]
        assert poll(client, job_id)["status"] == "completed"
        # Deliveries run side by side: wait for all of them (one per finished file, then the end).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with receiver.lock:
                events = [h.get("convertly-event") for h, _ in receiver.requests]
                done = [
                    (h, b) for h, b in receiver.requests if h.get("convertly-event") == "conversion.completed"
                ]
            if done and events.count("conversion.progress") >= 2:
                break
            time.sleep(0.2)
        with receiver.lock:
            received = list(receiver.requests)
    assert done, received
    events = [h["convertly-event"] for h, _ in received]
    # Convertly's events only (never Recast's own, such as a status change to `processing`).
    assert set(events) <= {"conversion.started", "conversion.progress", "conversion.completed"}
    assert events.count("conversion.progress") == 2 and events.count("conversion.completed") == 1
    for headers, body in received:
        timestamp = headers["convertly-timestamp"]
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        parts = dict(p.split("=", 1) for p in headers["convertly-signature"].split(","))
        assert parts == {"t": timestamp, "v1": expected}
        assert headers["user-agent"] == "Convertly-Webhooks/1.0"
        assert abs(int(timestamp) - time.time()) < 300
    headers, body = done[0]
    event = json.loads(body)
    assert set(event) == {"id", "type", "created", "data"} and event["type"] == "conversion.completed"
    assert event["data"]["jobId"] == job_id and event["data"]["status"] == "completed"
    assert [r["format"] for r in event["data"]["results"]] == ["jpg", "webp"]


def test_synchronous_tools(api: Api, clips: dict[str, Path], tmp_path: Path) -> None:
    """Without async=true a media tool answers with its files once they are made."""
    with convertly(api) as client, clips["small"].open("rb") as fh:
        resp = client.post(
            "/api/media/poster-frame",
            files={"file": ("video.mp4", fh, "video/mp4"), "timestamp": (None, "1"), "width": (None, "320")},
        )
    assert resp.status_code == 200, resp.text
    [file] = resp.json()["files"]
    assert set(file) == {"filename", "mimeType", "originalSize", "finalSize", "downloadUrl"}
    assert file["mimeType"] == "image/jpeg" and file["originalSize"] == clips["small"].stat().st_size
    picture = stream(fetch(file["downloadUrl"], tmp_path / "poster.jpg"), "video")
    assert picture is not None and picture["width"] == 320


@pytest.mark.parametrize(
    ("path", "fields", "key", "status"),
    [
        ("/api/media/extract-audio", {"sourceUrl": "https://cdn.example.com/a.mp4"}, "nope", 401),
        (
            "/api/media/extract-audio",
            {"sourceUrl": "https://cdn.example.com/a.mp4", "format": "aiff"},
            API_KEY,
            400,
        ),
        (
            "/api/media/extract-audio",
            {"sourceUrl": "http://169.254.169.254/latest", "async": "true"},
            API_KEY,
            400,
        ),
        ("/api/media/remove-background", {"sourceUrl": "https://cdn.example.com/a.png"}, API_KEY, 404),
        ("/api/jobs", {"sourceUrl": "https://cdn.example.com/a.mp4"}, API_KEY, 400),
        (
            "/api/jobs",
            {"sourceUrl": "https://cdn.example.com/a.mp4", "formats": '["webp"]', "x": "1"},
            API_KEY,
            400,
        ),
    ],
)
def test_errors_in_convertlys_shape(
    api: Api, path: str, fields: dict[str, str], key: str, status: int
) -> None:
    """Refusals (a bad key, an unknown format or tool, an SSRF target, a missing field) are
    `{"error": "<message>"}` with the status Convertly's error table gives them."""
    with convertly(api, key) as client:
        resp = client.post(path, files={k: (None, v) for k, v in fields.items()})
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


def test_unknown_job_and_cancel(api: Api, clips: dict[str, Path]) -> None:
    with convertly(api) as client:
        missing = client.get("/api/jobs/job_00000000000000000000")
        assert missing.status_code == 404 and set(missing.json()) == {"error"}
        with clips["small"].open("rb") as fh:
            resp = client.post(
                "/api/media/extract-audio",
                files={"file": ("a.mp4", fh, "video/mp4"), "async": (None, "true")},
            )
        job_id = resp.json()["jobId"]
        assert poll(client, job_id)["status"] == "completed"
        # Processing, completed and failed jobs cannot be cancelled.
        late = client.delete(f"/api/jobs/{job_id}")
        assert late.status_code == 409 and set(late.json()) == {"error"}


def test_limits_are_shared(stack: Stack, temporal: Stack, tmp_path: Path) -> None:
    """The organization's submission limit holds for Convertly's routes too, answered in its shape."""
    with second_api(stack, temporal, tmp_path, RECAST_MAX_SUBMISSIONS_PER_MINUTE="1") as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
            fields = {"sourceUrl": (None, "https://cdn.example.com/interview.mp4"), "async": (None, "true")}
            answers = [client.post("/api/media/extract-audio", files=fields) for _ in range(2)]
    assert answers[0].status_code == 202, answers[0].text
    assert answers[1].status_code == 429 and set(answers[1].json()) == {"error"}
