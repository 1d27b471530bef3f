"""`GET /v1/jobs/{id}/events`: event order, progress, heartbeats, closing, SSE framing, 404s.

An API of its own on the shared Temporal and worker, with heartbeats every 0.5 s instead of 30.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import API_KEY, OTHER_KEY, Api, second_api

HEARTBEAT_S = 0.5
STATUS_ORDER = ["pending", "probing", "processing", "completed"]
EVENTS = {"snapshot", "progress", "status_change", "heartbeat", "completed"}
SLOW = [{"type": "mp4", "video": {"codec": "h264", "quality": "premium"}}]  # 6 s of 720p: a few seconds
QUICK = [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}]


@pytest.fixture(scope="module")
def events_url(stack: Stack, temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with second_api(
        stack,
        temporal,
        tmp_path_factory.mktemp("events-api"),
        RECAST_EVENTS_HEARTBEAT=str(HEARTBEAT_S),
    ) as url:
        yield url


def watch_ndjson(api: Api, job_id: str) -> tuple[httpx.Response, list[tuple[float, dict[str, Any]]]]:
    """Every event of the stream with the time it arrived; returns once the server closes it."""
    events = []
    with api.http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=90) as resp:
        assert resp.status_code == 200, resp.read()
        for line in resp.iter_lines():
            if line.strip():
                events.append((time.monotonic(), json.loads(line)))
    return resp, events


def server_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["server_time"].replace("Z", "+00:00"))


def test_ndjson_follows_a_job_to_its_end(events_url: str, clips: dict[str, Path]) -> None:
    api = Api(events_url)
    job = api.submit(clips["long720"], SLOW)
    resp, timed = watch_ndjson(api, job["id"])
    closed_at = time.monotonic()
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    events = [e for _, e in timed]
    names = [e["event"] for e in events]
    assert set(names) <= EVENTS, names
    assert names[0] == "snapshot" and names[-1] == "completed", names
    assert names.count("snapshot") == 1 and names.count("completed") == 1
    assert closed_at - timed[-1][0] < 2, "the stream stayed open after `completed`"
    assert all(e["job"]["id"] == job["id"] for e in events)

    final = events[-1]["job"]
    assert final["status"] == "completed" and final["progress"] == 100, final
    assert final == api.job(job["id"])

    # Status: only forwards, and every change is announced by a status_change.
    statuses = [e["job"]["status"] for e in events]
    assert [STATUS_ORDER.index(s) for s in statuses] == sorted(STATUS_ORDER.index(s) for s in statuses)
    for before, event in itertools.pairwise(events):
        changed = event["job"]["status"] != before["job"]["status"]
        assert changed == (event["event"] == "status_change"), (before, event)
    assert names[-2] == "status_change" and events[-2]["job"]["status"] == "completed"

    # Progress never goes backwards, for the job and for each output, and shows the encode moving.
    progress = [e["job"]["progress"] for e in events]
    assert progress == sorted(progress), progress
    for i in range(len(final["outputs"])):
        outs = [e["job"]["outputs"][i]["progress"] for e in events]
        assert outs == sorted(outs), outs
    moving = [e for e in events if e["event"] == "progress"]
    assert any(15 < e["job"]["progress"] < 95 for e in moving), progress
    for e in moving:
        assert e["job"]["status"] == "processing"
    times = [server_time(e) for e in moving]
    assert all((b - a).total_seconds() >= 0.2 for a, b in itertools.pairwise(times)), times

    # Heartbeats, at the configured interval.
    beats = [server_time(e) for e in events if e["event"] == "heartbeat"]
    assert len(beats) >= 2, names
    assert all((b - a).total_seconds() >= HEARTBEAT_S * 0.9 for a, b in itertools.pairwise(beats))
    stamps = [server_time(e) for e in events]
    assert stamps == sorted(stamps)


def test_sse_framing(events_url: str, clips: dict[str, Path]) -> None:
    api = Api(events_url)
    job = api.submit(clips["small"], QUICK)
    resp = api.http.get(
        f"/v1/jobs/{job['id']}/events", headers={"Accept": "text/event-stream"}, timeout=90
    )  # returns once the server has closed the stream
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.text.endswith("\n\n")
    frames = resp.text[:-2].split("\n\n")
    events = []
    for frame in frames:
        lines = frame.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        data = json.loads(lines[1].removeprefix("data: "))
        assert data["event"] == lines[0].removeprefix("event: ")
        events.append(data)
    assert events[0]["event"] == "snapshot" and events[-1]["event"] == "completed"
    assert events[-1]["job"]["status"] == "completed"


def test_finished_job_gives_snapshot_then_completed(events_url: str, clips: dict[str, Path]) -> None:
    api = Api(events_url)
    job = api.wait(api.submit(clips["notmedia"], QUICK)["id"])
    assert job["status"] == "failed"
    started = time.monotonic()
    _, timed = watch_ndjson(api, job["id"])
    assert time.monotonic() - started < 2
    events = [e for _, e in timed]
    assert [e["event"] for e in events] == ["snapshot", "completed"]
    assert events[1]["job"] == job


def test_other_organizations_and_unknown_jobs_are_404(events_url: str, clips: dict[str, Path]) -> None:
    job = Api(events_url).submit(clips["small"], QUICK)
    for key, job_id in ((OTHER_KEY, job["id"]), (API_KEY, "job_doesnotexist"), (API_KEY, "nonsense")):
        for accept in ("application/x-ndjson", "text/event-stream"):
            resp = Api(events_url, key).http.get(f"/v1/jobs/{job_id}/events", headers={"Accept": accept})
            assert resp.status_code == 404, resp.text
            assert resp.headers["content-type"] == "application/json"
            assert resp.json()["error"]["code"] == "not-found"
    resp = httpx.get(f"{events_url}/v1/jobs/{job['id']}/events")
    assert resp.status_code == 401
    Api(events_url).wait(job["id"])
