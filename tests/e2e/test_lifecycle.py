"""Job lifecycle through the API, on the real stack: cancel, delayed start and cost, idempotency,
webhooks, metadata limits and output path templates."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.core import pricing
from recast.core.formats import Quality, VideoCodec
from recast.core.requests import Priority
from tests.helpers import ORG, Api, ffprobe, stream

H264_240 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
VP9_720 = {"type": "webm", "video": {"codec": "vp9", "resolution": "720p", "quality": "premium"}}


def error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def ffmpeg_running_for(job_id: str) -> bool:
    """Is any ffmpeg process working on this job's files (its input path holds the job ID)?"""
    found = subprocess.run(["pgrep", "-f", f"ffmpeg.*{job_id}"], capture_output=True, text=True)
    return bool(found.stdout.strip())


def wait_for(check: Any, timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---------------------------------------------------------------- cancel -------------------------------------


def test_cancel_mid_encode_keeps_finished_output_and_kills_ffmpeg(
    api: Api, clips: dict[str, Path], tmp_path: Path
) -> None:
    job = api.submit(clips["long720"], [H264_240, VP9_720])
    fast, slow = (o["id"] for o in job["outputs"])

    def fast_done_slow_running() -> dict[str, Any] | None:
        j = api.job(job["id"])
        outs = {o["id"]: o for o in j["outputs"]}
        if outs[fast]["status"] == "completed" and ffmpeg_running_for(job["id"]):
            return j
        assert j["status"] not in ("completed", "failed", "partial"), "the VP9 encode ended before the cancel"
        return None

    wait_for(fast_done_slow_running, what="the H.264 output to finish while VP9 still encodes")
    resp = api.http.post(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200, resp.text
    canceled = resp.json()
    assert canceled["status"] == "canceled"
    assert canceled["error_code"] == "canceled"
    assert canceled["canceled_at"] is not None
    outs = {o["id"]: o for o in canceled["outputs"]}
    assert outs[fast]["status"] == "completed"
    assert outs[slow]["status"] == "canceled"
    # The job is canceled only once its ffmpeg is gone.
    assert not ffmpeg_running_for(job["id"])
    # What was finished stays downloadable and playable; what was not is not ready.
    api.download(job["id"], fast, tmp_path / "fast.mp4")
    assert stream(ffprobe(tmp_path / "fast.mp4"), "video")["codec_name"] == "h264"  # type: ignore[index]
    error(api.http.get(f"/v1/jobs/{job['id']}/outputs/{slow}/download"), 409, "not-ready")
    # Only what was really encoded is charged.
    assert canceled["total_actual_cost"] == pytest.approx(
        outs[fast]["duration_ms"]
        / 60_000
        * pricing.rate(VideoCodec.h264, outs[fast]["height"], Quality.economy, Priority.standard),
        abs=1e-4,
    )
    assert api.job(job["id"])["status"] == "canceled"  # and it stays so
    message = error(api.http.post(f"/v1/jobs/{job['id']}/cancel"), 409, "not-cancelable")
    assert "canceled" in message


def test_cancel_unknown_or_other_orgs_job_is_404(api: Api, other_api: Api, clips: dict[str, Path]) -> None:
    error(api.http.post("/v1/jobs/job_00000000000000000000/cancel"), 404, "not-found")
    job = api.submit(clips["small"], [H264_240])
    error(other_api.http.post(f"/v1/jobs/{job['id']}/cancel"), 404, "not-found")
    error(other_api.http.post(f"/v1/jobs/{job['id']}/confirm"), 404, "not-found")
    done = api.wait(job["id"])
    assert done["status"] == "completed"
    error(api.http.post(f"/v1/jobs/{job['id']}/cancel"), 409, "not-cancelable")


# ---------------------------------------------------------------- delayed start and cost ---------------------


def test_delayed_start_waits_for_confirmation_with_an_estimate(api: Api, clips: dict[str, Path]) -> None:
    resp = api.upload(clips["small"], [H264_240, VP9_720], delayed_start="true", priority="premium")
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"], until={"awaiting_confirmation", "completed", "failed"})
    assert job["status"] == "awaiting_confirmation"
    assert job["stage"] == "awaiting_confirmation"
    assert job["priority"] == "premium"
    assert all(o["status"] == "pending" for o in job["outputs"])
    # 2 s input, 360 lines (never upscaled): both outputs price at the 480 row, times premium's 2.0.
    minutes = job["input_metadata"]["duration_ms"] / 60_000
    expected = minutes * (0.005 * 0.8 + 0.010 * 1.5) * 2.0
    assert job["total_estimated_cost"] == pytest.approx(expected, abs=1e-4)
    assert job["currency"] == "USD"
    time.sleep(0.5)
    assert api.job(job["id"])["status"] == "awaiting_confirmation"  # it really waits

    resp = api.http.post(f"/v1/jobs/{job['id']}/confirm")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] in ("processing", "completed")
    done = api.wait(job["id"])
    assert done["status"] == "completed"
    assert done["confirmed_at"] is not None and done["confirmed_at"] >= done["probed_at"]
    assert done["started_at"] >= done["confirmed_at"]
    assert done["execution"]["confirmation_wait_ms"] >= 400
    assert done["total_actual_cost"] == pytest.approx(expected, rel=0.05)
    error(api.http.post(f"/v1/jobs/{job['id']}/confirm"), 409, "not-awaiting-confirmation")


def test_confirming_a_job_that_does_not_wait_is_409(api: Api, clips: dict[str, Path]) -> None:
    job = api.submit(clips["small"], [H264_240])
    message = error(api.http.post(f"/v1/jobs/{job['id']}/confirm"), 409, "not-awaiting-confirmation")
    assert "awaiting_confirmation" in message
    assert api.wait(job["id"])["status"] == "completed"


def test_unconfirmed_job_expires(api: Api, clips: dict[str, Path]) -> None:
    # The test stack sets RECAST_CONFIRMATION_TIMEOUT=5.
    resp = api.upload(clips["small"], [H264_240], delayed_start="true")
    done = api.wait(resp.json()["id"], timeout=30)
    assert done["status"] == "canceled"
    assert done["error_code"] == "confirmation-timeout"
    assert "not confirmed" in done["error_message"]
    assert done["outputs"][0]["status"] == "canceled"
    assert done["total_estimated_cost"] > 0
    assert done["total_actual_cost"] == 0


# ---------------------------------------------------------------- idempotency --------------------------------


def test_concurrent_idempotent_submissions_make_one_job(api: Api, other_api: Api, http_server: str) -> None:
    key = f"order-{time.time_ns()}"
    body = {"input_url": f"{http_server}/small.mp4", "outputs": [H264_240]}

    def submit(_: int) -> httpx.Response:
        return api.http.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(submit, range(20)))
    assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    assert sorted(r.status_code for r in responses) == [200] * 19 + [202]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    [job_id] = ids
    assert api.job(job_id)["idempotency_key"] == key

    # The same key in the body, after the job finished, still finds it.
    done = api.wait(job_id)
    again = api.http.post("/v1/jobs", json={**body, "idempotency_key": key})
    assert again.status_code == 200 and again.json()["id"] == job_id
    assert again.json()["status"] == done["status"]
    # Another organization's identical key is another job.
    theirs = other_api.http.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
    assert theirs.status_code == 202 and theirs.json()["id"] != job_id
    error(api.http.post("/v1/jobs", json={**body, "idempotency_key": "x" * 129}), 400, "invalid-input")


def test_idempotent_upload_repeated_keeps_the_first_input(api: Api, clips: dict[str, Path]) -> None:
    key = f"upload-{time.time_ns()}"
    first = api.upload(clips["small"], [H264_240], idempotency_key=key)
    second = api.upload(clips["silent"], [H264_240], idempotency_key=key)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["id"] == first.json()["id"]
    done = api.wait(first.json()["id"])
    assert done["status"] == "completed"
    assert done["input"]["filename"] == "small.mp4"
    assert done["input_metadata"]["audio_codec"] == "aac"  # the first upload's, not the silent one


# ---------------------------------------------------------------- webhooks -----------------------------------


class Receiver:
    """A loopback webhook endpoint that answers 500 to the first delivery and records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    first = len(receiver.requests) == 1
                self.send_response(500 if first else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/recast"

    def events(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        with self.lock:
            return [(h, json.loads(b)) for h, b in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_webhooks_are_signed_retried_and_cover_status_and_outputs(
    api: Api, clips: dict[str, Path], receiver: Receiver
) -> None:
    secret = "whsec-test"
    resp = api.upload(clips["small"], [H264_240, VP9_720], webhook_url=receiver.url, webhook_secret=secret)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    assert "webhook_secret" not in resp.json()
    done = api.wait(job_id)
    assert done["status"] == "completed"

    def all_delivered() -> bool:
        events = receiver.events()
        final = any(
            b["event"] == "job.status_changed" and b["job"]["status"] == "completed" for _, b in events
        )
        outputs = {b["output_id"] for _, b in events if b["event"] == "output.completed"}
        return final and len(outputs) == 2  # deliveries run side by side and may arrive in any order

    wait_for(all_delivered, timeout=30, what="the completed status and both output.completed webhooks")
    with receiver.lock:
        raw = list(receiver.requests)
    for headers, body in raw:
        expected = hmac.new(
            secret.encode(), headers["recast-timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(headers["recast-signature"], expected)
        assert headers["recast-event"] == json.loads(body)["event"]
        assert abs(int(headers["recast-timestamp"]) - time.time()) < 120
    events = receiver.events()
    # The first delivery got a 500 and was delivered again, with the same delivery ID.
    first_id = events[0][0]["recast-delivery"]
    assert sum(1 for h, _ in events if h["recast-delivery"] == first_id) >= 2
    statuses = [b["job"]["status"] for h, b in events if b["event"] == "job.status_changed"]
    assert {"probing", "processing", "completed"} <= set(statuses)
    completed_outputs = {b["output_id"] for h, b in events if b["event"] == "output.completed"}
    assert completed_outputs == {o["id"] for o in done["outputs"]}
    assert all(b["job"]["id"] == job_id for _, b in events)


def test_unreachable_webhook_never_fails_or_delays_the_job(api: Api, clips: dict[str, Path]) -> None:
    # Nothing listens on port 9 of loopback: every delivery fails and is retried in the background.
    resp = api.upload(clips["small"], [H264_240], webhook_url="http://127.0.0.1:9/hook")
    done = api.wait(resp.json()["id"], timeout=30)
    assert done["status"] == "completed"
    assert done["error_code"] is None
    error(
        api.http.post(
            "/v1/jobs", json={"input_url": "http://x/y.mp4", "outputs": [H264_240], "webhook_url": "ftp://x"}
        ),
        400,
        "invalid-input",
    )


# ---------------------------------------------------------------- metadata and paths -------------------------


@pytest.mark.parametrize(
    ("metadata", "limit"),
    [
        ({f"k{i}": "v" for i in range(21)}, "20"),
        ({"k" * 65: "v"}, "64"),
        ({"key": "v" * 1025}, "1024"),
    ],
)
def test_metadata_limits_are_400_naming_the_limit(api: Api, metadata: dict[str, str], limit: str) -> None:
    body = {"input_url": "http://example.com/a.mp4", "outputs": [H264_240], "metadata": metadata}
    message = error(api.http.post("/v1/jobs", json=body), 400, "invalid-input")
    assert message.startswith("metadata") and limit in message


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{job_id}/{nope}.mp4", ["{nope}", "allowed"]),
        ("{job_id.__class__}", ["unknown variable"]),
        ("../{job_id}/x.mp4", ["not a safe relative path"]),
        ("/etc/{job_id}.mp4", ["not a safe relative path"]),
        ("a/{job_id}/../../b.mp4", ["not a safe relative path"]),
        ("static.mp4", ["same path"]),
    ],
)
def test_bad_path_templates_are_400(api: Api, template: str, words: list[str]) -> None:
    body = {
        "input_url": "http://example.com/a.mp4",
        "outputs": [H264_240, {**H264_240, "video": {"codec": "h264", "resolution": "720p"}}],
        "output_path_template": template,
    }
    message = error(api.http.post("/v1/jobs", json=body), 400, "invalid-input")
    assert message.startswith("output_path_template")
    for word in words:
        assert word in message


def test_path_template_places_outputs_under_the_org_prefix(
    api: Api, clips: dict[str, Path], stack_storage: Path, tmp_path: Path
) -> None:
    template = "renditions/{date}/{job_id}/{codec}-{resolution}-{quality}.{format}"
    resp = api.upload(clips["small"], [H264_240, VP9_720], output_path_template=template)
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed"
    date = done["created_at"][:10]
    paths = sorted(o["path"] for o in done["outputs"])
    assert paths == [
        f"renditions/{date}/{done['id']}/h264-480p-economy.mp4",
        f"renditions/{date}/{done['id']}/vp9-720p-premium.webm",
    ]
    for path in paths:
        assert (stack_storage / ORG / "outputs" / path).is_file()
    h264 = next(o for o in done["outputs"] if o["type"] == "mp4")
    api.download(done["id"], h264["id"], tmp_path / "o.mp4")
    assert (tmp_path / "o.mp4").read_bytes() == (stack_storage / ORG / "outputs" / h264["path"]).read_bytes()


def test_cancel_while_awaiting_confirmation(api: Api, clips: dict[str, Path]) -> None:
    resp = api.upload(clips["small"], [H264_240], delayed_start="true")
    job = api.wait(resp.json()["id"], until={"awaiting_confirmation"})
    canceled = api.http.post(f"/v1/jobs/{job['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["outputs"][0]["status"] == "canceled"
    assert canceled.json()["confirmed_at"] is None
    error(api.http.post(f"/v1/jobs/{job['id']}/confirm"), 409, "not-awaiting-confirmation")
