"""Batches: 50 jobs checked all or nothing, run as one BatchJob's children, counted, listed a page at a
time, and one `batch.completed` webhook; a cancelled batch."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.client import Client

from recast.devstack.stack import Stack
from tests.helpers import OTHER_KEY, Api, own_api

POSTER = {"type": "jpg", "image": {"width": 160}}  # one small picture: the cheapest output


class Hooks:
    """A loopback webhook endpoint recording every event body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hooks.lock:
                    hooks.bodies.append(body)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def batch_events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if b["event"] == "batch.completed"]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.server.shutdown()


def wait_batch(api: Api, batch_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = api.http.get(f"/v1/batches/{batch_id}").json()
        if batch["status"] != "running":
            return batch
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} still running: {batch}")


def history_length(temporal: Stack, workflow_id: str) -> int:
    async def read() -> int:
        client = await Client.connect(temporal.env["RECAST_TEMPORAL_ADDRESS"])
        return sum([1 async for _ in client.get_workflow_handle(workflow_id).fetch_history_events()])

    return asyncio.run(read())


@pytest.fixture(scope="module")
def batch_api(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A worker and API of their own with lenient stall and fetch timeouts: 50 jobs at once on a busy
    machine must not fail as `stalled` or `too-slow` (those have tests of their own)."""
    with own_api(
        temporal,
        tmp_path_factory.mktemp("batches"),
        "recast-batches",
        RECAST_STALL_TIMEOUT="60",
        RECAST_FETCH_TIMEOUT="60",
        RECAST_HEARTBEAT_TIMEOUT="30",
    ) as api:
        yield api


def test_a_batch_of_50_jobs_runs_counts_lists_and_notifies_once(
    batch_api: Api, http_server: str, hooks: Hooks, temporal: Stack
) -> None:
    api = batch_api
    job = {"input_url": f"{http_server}/small.mp4", "outputs": [POSTER]}
    before = api.http.get("/v1/jobs").json()["total_count"]
    # All or nothing: one bad job refuses the batch, naming its index and field; nothing starts.
    bad = [job] * 7 + [{"input_url": f"{http_server}/small.mp4", "outputs": [{"type": "mp4"}]}]
    resp = api.http.post("/v1/batches", json={"jobs": bad})
    assert resp.status_code == 400 and resp.json()["error"]["message"].startswith("jobs[7].outputs[0]")
    resp = api.http.post("/v1/batches", json={"jobs": [job] * 1001})
    assert resp.status_code == 400 and "jobs" in resp.json()["error"]["message"]
    assert api.http.get("/v1/jobs").json()["total_count"] == before

    resp = api.http.post(
        "/v1/batches", json={"jobs": [job] * 50, "webhook_url": hooks.url, "metadata": {"run": "nightly"}}
    )
    assert resp.status_code == 202, resp.text
    batch = resp.json()
    assert (batch["total"], batch["status"], batch["counts"]["queued"]) == (50, "running", 50)

    done = wait_batch(api, batch["id"])
    if done["counts"]["completed"] != 50:  # say why, before the comparison below fails
        listed = api.http.get(f"/v1/batches/{batch['id']}", params={"limit": 100}).json()["jobs"]
        errors = [(j["error_code"], j["error_message"]) for j in listed if j["status"] != "completed"]
        raise AssertionError(f"not every job completed: {done['counts']} {errors}")
    assert done["status"] == "completed", done
    assert done["counts"] == {
        "queued": 0,
        "running": 0,
        "completed": 50,
        "partial": 0,
        "failed": 0,
        "canceled": 0,
    }
    assert done["metadata"] == {"run": "nightly"}

    # Its jobs, a page at a time (visibility lags the last status change by a moment).
    deadline = time.monotonic() + 30
    while True:
        seen: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = api.http.get(f"/v1/batches/{batch['id']}", params={"limit": 20, "cursor": cursor}).json()
            seen.update({j["id"]: j for j in page["jobs"]})
            cursor = page["next_cursor"]
            if cursor is None:
                break
        if all(j["status"] == "completed" for j in seen.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(seen) == 50 and all(j["batch_id"] == batch["id"] for j in seen.values())
    assert all(j["status"] == "completed" for j in seen.values())
    costs = [j["total_actual_cost"] for j in seen.values()]
    assert done["total_actual_cost"] == pytest.approx(sum(costs), abs=1e-4)

    deadline = time.monotonic() + 30
    while not hooks.batch_events() and time.monotonic() < deadline:
        time.sleep(0.1)
    [event] = hooks.batch_events()
    assert event["batch"]["id"] == batch["id"] and event["batch"]["counts"]["completed"] == 50
    assert api.http.post(f"/v1/batches/{batch['id']}/cancel").json()["error"]["code"] == "not-cancelable"
    events = history_length(temporal, batch["id"])
    print(f"history of a 50-job batch: {events} events")
    assert events < 50 * 10  # ~7 per job: 1,000 jobs stay far inside Temporal's 51,200


def test_a_cancelled_batch_cancels_its_running_jobs(batch_api: Api, http_server: str, hooks: Hooks) -> None:
    api, other_api = batch_api, Api(batch_api.base_url, key=OTHER_KEY)
    # Each job waits for confirmation after probing: still running when the batch is cancelled.
    job = {"input_url": f"{http_server}/small.mp4", "outputs": [POSTER], "delayed_start": True}
    resp = api.http.post("/v1/batches", json={"jobs": [job] * 3, "webhook_url": hooks.url})
    assert resp.status_code == 202, resp.text
    batch_id = resp.json()["id"]
    assert other_api.http.get(f"/v1/batches/{batch_id}").status_code == 404
    assert other_api.http.post(f"/v1/batches/{batch_id}/cancel").status_code == 404
    deadline = time.monotonic() + 30
    while api.http.get(f"/v1/batches/{batch_id}").json()["counts"]["running"] < 3:
        assert time.monotonic() < deadline, "the batch's jobs never started"
        time.sleep(0.2)

    resp = api.http.post(f"/v1/batches/{batch_id}/cancel")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "canceled" and resp.json()["counts"]["canceled"] == 3
    jobs = api.http.get(f"/v1/batches/{batch_id}").json()["jobs"]
    for listed in jobs:
        assert api.job(listed["id"])["status"] == "canceled"
    deadline = time.monotonic() + 30
    while not hooks.batch_events() and time.monotonic() < deadline:
        time.sleep(0.1)
    [event] = hooks.batch_events()
    assert event["batch"]["status"] == "canceled"
