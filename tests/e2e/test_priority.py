"""Priority: with every worker slot busy, a premium job submitted after economy jobs is encoded first.

A worker of its own with one activity slot (`RECAST_WORKER_ACTIVITIES=1`) on its own task queue. A long
encode holds the slot while three economy jobs and then one premium job are submitted and probed (the
probe is a local activity with slots of its own), so all four encodes wait in the task queue, the
premium one queued last. Then the slot is freed, and the order in which the encodes started is read
from the jobs' workflow histories.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from recast.devstack.stack import Stack, free_port
from tests.helpers import TERMINAL, Api, long_clip, make_clip, new_stack

TINY = {"type": "mp4", "video": {"codec": "h264", "quality": "economy"}}
SLOW = {"type": "webm", "video": {"codec": "vp9", "resolution": "720p", "quality": "premium"}}


@pytest.fixture
def one_slot(temporal: Stack, tmp_path: Path) -> Iterator[Api]:
    s = new_stack(
        temporal, tmp_path / "stack", f"recast-priority-{tmp_path.name}", RECAST_WORKER_ACTIVITIES="1"
    )
    s.start_worker()
    port = free_port()
    s.start_api("127.0.0.1", port)
    yield Api(f"http://127.0.0.1:{port}")
    s.stop()


def encode_times(temporal: Stack, job_id: str) -> tuple[datetime | None, datetime | None]:
    """(scheduled, started) times of the job's `encode_output` activity, from its workflow history.

    Only ordinary activities record ActivityTask* events (local ones leave markers); a retried
    activity keeps its last attempt's start, so the test also checks there was one attempt."""

    async def read() -> tuple[datetime | None, datetime | None]:
        client = await Client.connect(temporal.env["RECAST_TEMPORAL_ADDRESS"])
        scheduled: dict[int, datetime] = {}
        started = None
        async for event in client.get_workflow_handle(job_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                if event.activity_task_scheduled_event_attributes.activity_type.name == "encode_output":
                    scheduled[event.event_id] = event.event_time.ToDatetime()
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = event.activity_task_started_event_attributes
                if attrs.scheduled_event_id in scheduled:
                    assert attrs.attempt == 1, f"{job_id}: encode retried"
                    started = event.event_time.ToDatetime()
        return next(iter(scheduled.values()), None), started

    return asyncio.run(read())


def wait_scheduled(temporal: Stack, job_ids: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(encode_times(temporal, j)[0] for j in job_ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"encodes of {job_ids} not all scheduled after {timeout}s")


def test_premium_job_submitted_last_starts_before_economy_jobs(
    one_slot: Api, temporal: Stack, tmp_path: Path
) -> None:
    api = one_slot
    tiny = make_clip(tmp_path / "tiny.mp4", seconds=1, size="320x180")
    long = long_clip(tmp_path / "long.mp4")

    # Occupy the only activity slot with an encode that would take far longer than the test.
    occupier = api.submit(long, [SLOW])["id"]
    assert api.wait(occupier, 60, {"processing", "canceled", *TERMINAL})["status"] == "processing"
    wait_scheduled(temporal, [occupier])

    def submit(priority: str) -> str:
        resp = api.upload(tiny, [TINY], priority=priority)
        assert resp.status_code == 202, resp.text
        assert resp.json()["priority"] == priority
        return str(resp.json()["id"])

    economy = [submit("economy") for _ in range(3)]
    wait_scheduled(temporal, economy)
    premium = submit("premium")
    wait_scheduled(temporal, [premium])

    # All four encodes are queued behind the occupier, none has started: the slot is still busy.
    queued = [economy[0], economy[1], economy[2], premium]
    assert api.job(occupier)["status"] == "processing", "the occupier finished too early to test anything"
    assert all(encode_times(temporal, j)[1] is None for j in queued)
    assert all(api.job(j)["status"] == "processing" for j in queued)

    # Free the slot: cancelling kills the occupier's ffmpeg and ends its activity.
    resp = api.http.post(f"/v1/jobs/{occupier}/cancel")
    assert resp.status_code == 200, resp.text
    done = {j: api.wait(j, 90) for j in queued}
    assert all(d["status"] == "completed" for d in done.values()), done

    times = {j: encode_times(temporal, j) for j in queued}
    sched = {j: t[0] for j, t in times.items()}
    start = {j: t[1] for j, t in times.items()}
    assert all(sched.values()) and all(start.values()), times
    # Submitted, and queued, last …
    assert all(sched[premium] > sched[e] for e in economy), sched  # type: ignore[operator]
    # … started first.
    order = sorted(queued, key=lambda j: start[j])  # type: ignore[arg-type,return-value]
    labels = ["premium" if j == premium else "economy" for j in order]
    assert labels == ["premium", "economy", "economy", "economy"], (labels, start)
