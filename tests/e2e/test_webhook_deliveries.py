"""Webhook deliveries end to end: a receiver on loopback fails each delivery's first attempts; the
delivery log shows every attempt and status; a redelivery arrives again with the same webhook-id; the
Standard Webhooks signature verifies with the `standardwebhooks` library under the new and the old secret
of a rotation, and the Recast-Signature with the job's own secret still does."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from recast.core.webhooks import verify
from recast.devstack.stack import Stack
from tests.helpers import API_KEY, Api, own_api, receiving

NEW = "whsec_" + base64.b64encode(b"new-secret-" * 3).decode()
OLD = "whsec_" + base64.b64encode(b"old-secret-" * 3).decode()
MP4 = [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}]


def poll(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def rotating(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A stack whose workers sign with NEW while OLD is being rotated out."""
    with own_api(
        temporal,
        tmp_path_factory.mktemp("hooks"),
        "recast-webhook-log",
        RECAST_WEBHOOK_SECRET=NEW,
        RECAST_WEBHOOK_SECRET_PREVIOUS=OLD,
        RECAST_CONFIRMATION_TIMEOUT="600",  # a job left waiting must not time out under a loaded machine
    ) as api:
        yield api


def test_delivery_log_redelivery_and_rotated_signatures(rotating: Api, clips: dict[str, Path]) -> None:
    api = rotating
    with receiving(fail_first=2) as receiver:
        resp = api.upload(clips["small"], MP4, webhook_url=receiver.url, webhook_secret="job-secret")
        assert resp.status_code == 202, resp.text
        job = api.wait(resp.json()["id"])
        assert job["status"] == "completed"

        def all_delivered() -> list[dict[str, Any]] | None:
            got = api.http.get(f"/v1/jobs/{job['id']}/webhooks")
            assert got.status_code == 200, got.text
            data: list[dict[str, Any]] = got.json()["data"]
            events = {(d["event"], d["output_id"]) for d in data}
            done = len(data) >= 4 and all(d["state"] == "delivered" for d in data)
            return data if done and ("output.completed", job["outputs"][0]["id"]) in events else None

        deliveries = poll(all_delivered, 60, "every delivery to succeed after two 500s")
        for d in deliveries:
            assert d["attempts"] == 3 and d["response_status"] == 200 and d["error"] is None
            assert [a["response_status"] for a in d["history"]] == [500, 500, 200]
            assert [a["attempt"] for a in d["history"]] == [1, 2, 3]
            assert "HTTP 500" in d["history"][0]["error"]
            assert d["first_attempt_at"] < d["last_attempt_at"]
            assert d["duration_ms"] >= 0 and d["redeliveries"] == 0 and d["url"] == receiver.url
            assert len(receiver.of(d["id"])) == 3
        statuses = {
            d["id"]: d for d in deliveries if d["event"] == "job.status_changed"
        }  # one per status change
        assert len(statuses) >= 3

        # Send the last status change (completed) again: it arrives with the same webhook-id.
        last = deliveries[-1]
        again = api.http.post(f"/v1/jobs/{job['id']}/webhooks/{last['id']}/redeliver")
        assert again.status_code == 202, again.text
        redelivery = again.json()
        assert redelivery["delivery_id"] == last["id"] and redelivery["id"].startswith("rdl_")
        poll(lambda: len(receiver.of(last["id"])) == 4, 30, "the redelivery")

        def redelivered() -> dict[str, Any] | None:
            data = api.http.get(f"/v1/jobs/{job['id']}/webhooks").json()["data"]
            item: dict[str, Any] = next(d for d in data if d["id"] == last["id"])
            return item if item["attempts"] == 4 else None

        item = poll(redelivered, 30, "the redelivery in the log")
        assert item["redeliveries"] == 1 and item["state"] == "delivered"
        assert item["history"][-1]["redelivery"] == redelivery["id"]

        # Every request: verified by the reference library with the new secret and with the old one.
        requests = receiver.of(last["id"])
        first_body = requests[0][1]
        for headers, body in requests:
            assert body == first_body, "a redelivery sends the delivery as it was"
            assert len(headers["webhook-signature"].split(" ")) == 2
            for secret in (NEW, OLD):
                assert standardwebhooks.Webhook(secret).verify(body, headers)["job"]["id"] == job["id"]
            assert verify("job-secret", headers["recast-timestamp"], body, headers["recast-signature"])


def test_unknown_jobs_and_deliveries_are_404(rotating: Api, clips: dict[str, Path]) -> None:
    missing = rotating.http.post("/v1/jobs/job_nope/webhooks/dlv_x/redeliver")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not-found"
    job = rotating.submit(clips["small"], MP4)  # no webhook_url: nothing is ever delivered
    assert rotating.http.get(f"/v1/jobs/{job['id']}/webhooks").json() == {"data": []}
    for delivery_id in ("dlv_unknown", "..%2F..%2Fupload.json"):
        resp = rotating.http.post(f"/v1/jobs/{job['id']}/webhooks/{delivery_id}/redeliver")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not-found"


def test_redelivery_while_the_job_runs(rotating: Api, clips: dict[str, Path]) -> None:
    """A job waiting for confirmation (its workflow running) redelivers too; the CLI lists the log."""
    with receiving() as receiver:
        resp = rotating.upload(clips["small"], MP4, webhook_url=receiver.url, delayed_start="true")
        job = rotating.wait(resp.json()["id"], until={"awaiting_confirmation"})

        def waiting_delivered() -> dict[str, Any] | None:
            data = rotating.http.get(f"/v1/jobs/{job['id']}/webhooks").json()["data"]
            return next(
                (
                    d
                    for d in data
                    if d["state"] == "delivered" and "awaiting_confirmation" in receiver_bodies(d)
                ),
                None,
            )

        def receiver_bodies(d: dict[str, Any]) -> str:
            return " ".join(body.decode() for _, body in receiver.of(d["id"]))

        delivery = poll(waiting_delivered, 30, "the awaiting_confirmation delivery")
        again = rotating.http.post(f"/v1/jobs/{job['id']}/webhooks/{delivery['id']}/redeliver")
        assert again.status_code == 202, again.text
        poll(lambda: len(receiver.of(delivery["id"])) == 2, 30, "the redelivery of a running job's delivery")
        assert rotating.job(job["id"])["status"] == "awaiting_confirmation"  # the job itself untouched
        cli = subprocess.run(
            [sys.executable, "-m", "recast.client.cli", "webhooks", job["id"]],
            env={**os.environ, "RECAST_API_URL": rotating.base_url, "RECAST_API_KEY": API_KEY},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert delivery["id"] in cli.stdout and "delivered" in cli.stdout
        assert rotating.http.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
