"""Webhooks: signature and verification, and deliver_webhook against a real loopback HTTP server."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.callback import CallbackActivities
from activities.deps import Deps
from recast.core.job import Job
from recast.core.webhooks import (
    EVENT_OUTPUT_COMPLETED,
    EVENT_STATUS_CHANGED,
    WEBHOOK_RETRY,
    WebhookDelivery,
    request_parts,
    secret_bytes,
    signature,
    summarize,
    verify,
)
from recast.infra import config, webhook_log
from tests.helpers import WEBHOOK_SECRET, delivery, make_job

SECRET = WEBHOOK_SECRET  # what delivery() signs with


# ---------------------------------------------------------------- signature / verify ----------------------


def test_signature_matches_independent_hmac() -> None:
    body = b'{"event":"job.status_changed"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", body) == expected
    assert len(expected) == 64


def test_verify_accepts_good_and_rejects_tampered_or_stale() -> None:
    body, ts = b'{"a":1}', "1700000000"
    sig = signature(SECRET, ts, body)
    assert verify(SECRET, ts, body, sig, now=1700000000 + 10)
    assert not verify(SECRET, ts, b'{"a":2}', sig, now=1700000000), "tampered body accepted"
    assert not verify("other-secret", ts, body, sig, now=1700000000), "wrong secret accepted"
    assert not verify(SECRET, "1700000001", body, sig, now=1700000000), "altered timestamp accepted"
    assert not verify(SECRET, ts, body, sig, now=1700000000 + 301), "stale timestamp accepted"
    assert not verify(SECRET, ts, body, sig, now=1700000000 - 301), "future timestamp accepted"
    assert verify(SECRET, ts, body, sig, tolerance_s=1000, now=1700000000 + 900)
    assert not verify(SECRET, "not-a-number", body, sig, now=1700000000)
    now_ts = str(int(time.time()))
    assert verify(SECRET, now_ts, body, signature(SECRET, now_ts, body))


def test_request_parts_body_and_headers() -> None:
    d = delivery("http://h/x", output_id=None)
    headers, body = request_parts(d, "1700000000")
    data = json.loads(body)
    assert data == {"event": EVENT_STATUS_CHANGED, "job": make_job().model_dump(mode="json")}
    assert b" " not in body, "body is not compact"
    assert headers["Content-Type"] == "application/json"
    assert headers["Recast-Event"] == EVENT_STATUS_CHANGED
    assert headers["Recast-Delivery"] == "dlv_1"
    assert headers["Recast-Timestamp"] == "1700000000"
    assert headers["User-Agent"] == "Recast-Webhooks/1"
    assert headers["Recast-Signature"] == signature(SECRET, "1700000000", body)

    out = WebhookDelivery(
        url="http://h/x", event=EVENT_OUTPUT_COMPLETED, delivery_id="dlv_2", job=make_job(), output_id="out_1"
    )
    headers, body = request_parts(out, "1700000000")
    assert json.loads(body)["output_id"] == "out_1"
    assert json.loads(body)["event"] == EVENT_OUTPUT_COMPLETED
    assert "Recast-Signature" not in headers, "signed without a secret"


def test_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError):
        WebhookDelivery(url="http://h/x", event="job.exploded", delivery_id="d", job=make_job())


def test_retry_policy_is_unbounded_exponential() -> None:
    assert WEBHOOK_RETRY.maximum_attempts == 0
    assert WEBHOOK_RETRY.backoff_coefficient == 2.0
    assert WEBHOOK_RETRY.initial_interval.total_seconds() == 1
    assert WEBHOOK_RETRY.maximum_interval is not None
    assert WEBHOOK_RETRY.maximum_interval.total_seconds() == 300


# ---------------------------------------------------------------- the activity, over loopback HTTP --------


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # responses to give, in order; the last one repeats
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(url="", statuses=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.requests.append(
                {"method": "POST", "path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            status = rec.statuses[min(len(rec.requests), len(rec.statuses)) - 1]
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/recast?token=abc"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def callbacks(tmp_path: Path) -> CallbackActivities:
    settings = config.Settings(
        data_dir=tmp_path,
        scratch_dir=tmp_path / "scratch",
        storage_url=f"fs://{tmp_path}/s",
        url_allowlist=("127.0.0.1/32",),  # the receiver is on loopback; test_ssrf.py covers the refusal
    )
    return CallbackActivities(Deps.from_settings(settings))


def run(callbacks: CallbackActivities, d: WebhookDelivery) -> int:
    return asyncio.run(ActivityEnvironment().run(callbacks.deliver_webhook, d))


def test_delivers_signed_post(receiver: Receiver, callbacks: CallbackActivities) -> None:
    receiver.statuses = [204]
    before = int(time.time())
    assert run(callbacks, delivery(receiver.url)) == 204
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert req["path"] == "/hooks/recast?token=abc"
    assert h["content-type"] == "application/json"
    assert h["recast-event"] == EVENT_STATUS_CHANGED
    assert h["recast-delivery"] == "dlv_1"
    assert h["user-agent"] == "Recast-Webhooks/1"
    assert before <= int(h["recast-timestamp"]) <= int(time.time())
    data = json.loads(req["body"])
    assert data["event"] == EVENT_STATUS_CHANGED
    assert Job.model_validate(data["job"]) == make_job()
    assert "output_id" not in data
    # what a receiver does, with nothing but hmac/hashlib
    expected = hmac.new(
        SECRET.encode(), h["recast-timestamp"].encode() + b"." + req["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(h["recast-signature"], expected)
    assert verify(SECRET, h["recast-timestamp"], req["body"], h["recast-signature"])


def test_unsigned_without_secret(receiver: Receiver, callbacks: CallbackActivities) -> None:
    assert run(callbacks, delivery(receiver.url, secret=None, output_id="out_1")) == 200
    h = {k.lower(): v for k, v in receiver.requests[0]["headers"].items()}
    assert "recast-signature" not in h
    assert json.loads(receiver.requests[0]["body"])["output_id"] == "out_1"


@pytest.mark.parametrize("status", [500, 404, 302])
def test_non_2xx_is_retryable_failure(receiver: Receiver, callbacks: CallbackActivities, status: int) -> None:
    receiver.statuses = [status]
    with pytest.raises(ApplicationError) as err:
        run(callbacks, delivery(receiver.url))
    assert err.value.type == "webhook-failed"
    assert not err.value.non_retryable
    assert f"HTTP {status}" in err.value.message
    assert "token=abc" not in err.value.message, "the URL's query leaked into the error"
    assert len(receiver.requests) == 1, "a redirect was followed"


def test_retry_after_500_then_succeeds(receiver: Receiver, callbacks: CallbackActivities) -> None:
    receiver.statuses = [500, 200]
    with pytest.raises(ApplicationError):
        run(callbacks, delivery(receiver.url))
    assert run(callbacks, delivery(receiver.url)) == 200
    ids = {r["headers"]["Recast-Delivery"] for r in receiver.requests}
    assert ids == {"dlv_1"}, "the delivery id changed between attempts"


def test_connection_refused_is_retryable(callbacks: CallbackActivities) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    with pytest.raises(ApplicationError) as err:
        run(callbacks, delivery(f"http://127.0.0.1:{port}/hook"))
    assert err.value.type == "webhook-failed"
    assert not err.value.non_retryable
    assert "ConnectError" in err.value.message


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "not a url", "http:///x"])
def test_unusable_url_is_not_retried(callbacks: CallbackActivities, url: str) -> None:
    with pytest.raises(ApplicationError) as err:
        run(callbacks, delivery(url))
    assert err.value.type == "webhook-invalid"
    assert err.value.non_retryable


# ---------------------------------------------------------------- Standard Webhooks, rotation, the log ------

NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


def test_standard_signature_verifies_with_the_reference_library_under_either_secret() -> None:
    headers, body = request_parts(delivery("http://h/x"), str(int(time.time())), (NEW_SECRET, OLD_SECRET))
    assert headers["webhook-id"] == "dlv_1"
    sigs = headers["webhook-signature"].split(" ")
    assert len(sigs) == 2 and all(s.startswith("v1,") for s in sigs)
    for secret in (NEW_SECRET, OLD_SECRET):
        assert standardwebhooks.Webhook(secret).verify(body, headers)["event"] == EVENT_STATUS_CHANGED
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(body, headers)
    # The old signature scheme still rides along, with the job's own secret.
    assert verify(SECRET, headers["Recast-Timestamp"], body, headers["Recast-Signature"])


def load_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> config.Settings:
    for name in [n for n in os.environ if n.startswith("RECAST_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return config.load()


@pytest.mark.parametrize("bad", ["nope", "whsec_***", "whsec_" + base64.b64encode(b"short").decode()])
def test_webhook_secret_must_be_whsec_base64(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        secret_bytes(bad)
    with pytest.raises(config.ConfigError, match="RECAST_WEBHOOK_SECRET"):
        load_with(monkeypatch, RECAST_DATA_DIR=str(tmp_path), RECAST_WEBHOOK_SECRET=bad)


def test_a_secret_is_generated_once_and_previous_ones_follow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_with(monkeypatch, RECAST_DATA_DIR=str(tmp_path))
    assert first.webhook_secret == load_with(monkeypatch, RECAST_DATA_DIR=str(tmp_path)).webhook_secret
    secret_bytes(first.webhook_secret)
    rotated = load_with(
        monkeypatch,
        RECAST_DATA_DIR=str(tmp_path),
        RECAST_WEBHOOK_SECRET=NEW_SECRET,
        RECAST_WEBHOOK_SECRET_PREVIOUS=f"{OLD_SECRET}, ",
    )
    assert rotated.webhook_secrets == (NEW_SECRET, OLD_SECRET)


def test_attempts_are_logged_with_status_and_summarized(tmp_path: Path, receiver: Receiver) -> None:
    settings = config.Settings(
        data_dir=tmp_path,
        scratch_dir=tmp_path / "scratch",
        storage_url=f"fs://{tmp_path}/s",
        url_allowlist=("127.0.0.1/32",),
        webhook_secret=NEW_SECRET,
    )
    deps = Deps.from_settings(settings)
    receiver.statuses = [503, 201]
    d = delivery(receiver.url)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=1)
    with pytest.raises(ApplicationError):
        asyncio.run(env.run(CallbackActivities(deps).deliver_webhook, d))
    env.info = dataclasses.replace(env.info, attempt=2)
    assert asyncio.run(env.run(CallbackActivities(deps).deliver_webhook, d)) == 201
    [(stored, attempts)] = asyncio.run(webhook_log.load_log(deps.storage, d.job.organization, d.job.id))
    assert stored.delivery.secret is None, "the job's secret was written to the log"
    assert [(a.attempt, a.response_status, a.ok) for a in attempts] == [(1, 503, False), (2, 201, True)]
    item = summarize(stored, attempts, datetime.now(UTC))
    assert (item.id, item.state, item.attempts, item.response_status) == ("dlv_1", "delivered", 2, 201)
    assert item.first_attempt_at <= item.last_attempt_at
    for req in receiver.requests:
        standardwebhooks.Webhook(NEW_SECRET).verify(req["body"], req["headers"])
