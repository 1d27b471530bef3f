"""Stacks (API + worker) on the session's Temporal dev server: the settings every test stack shares,
second APIs with settings of their own, keys files made with the keys CLI, and what a job's workflow
history says about its activities."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from recast.devstack.stack import ROOT, Stack, free_port

API_KEY, ORG = "test-key-acme", "acme"
OTHER_KEY, OTHER_ORG = "test-key-globex", "globex"
SECRET = "test-signing-secret"
MAX_UPLOAD = 8 * 1024 * 1024
SHARED_QUEUE = "recast-tests"

# What every test stack shares: short stall and heartbeat timeouts keep failure tests quick.
STACK_ENV = {
    "RECAST_API_KEYS": f"{API_KEY}={ORG},{OTHER_KEY}={OTHER_ORG}",
    "RECAST_SIGNING_SECRET": SECRET,
    "RECAST_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
    "RECAST_STALL_TIMEOUT": "3",
    "RECAST_HEARTBEAT_TIMEOUT": "5",
    "RECAST_ENCODE_ATTEMPTS": "2",
    "RECAST_CONFIRMATION_TIMEOUT": "5",
    "RECAST_MAX_DURATION": "60",
    "RECAST_MAX_PIXELS": "4000000",  # 4 MP: above every clip the tests make but one
    "RECAST_FETCH_TIMEOUT": "4",
    "RECAST_WEBHOOK_RETRY": "60",
    # Many tests submit as one organization in quick succession: no per-organization limits here;
    # tests/e2e/test_limits.py runs an API with low ones.
    "RECAST_MAX_CONCURRENT_JOBS": "0",
    "RECAST_MAX_SUBMISSIONS_PER_MINUTE": "0",
    # The tests' input and webhook servers listen on loopback, which Recast refuses by default (SSRF);
    # tests/e2e/test_ssrf.py runs a stack without this.
    "RECAST_URL_ALLOWLIST": "127.0.0.1/32",
    # No worker metrics endpoint (its default port, 9464, is `make run`'s, and some stacks run several
    # workers); tests/e2e/test_metrics.py gives its worker a free port.
    "RECAST_WORKER_METRICS_PORT": "0",
}


def new_stack(temporal: Stack, data_dir: Path, task_queue: str, **env: str) -> Stack:
    return Stack(
        data_dir=data_dir,
        env={
            **STACK_ENV,
            "TEMPORAL_ADDRESS": temporal.env["TEMPORAL_ADDRESS"],
            "TEMPORAL_TLS": "false",
            "RECAST_TASK_QUEUE": task_queue,
            **env,
        },
        quiet=True,
    )


@contextlib.contextmanager
def second_api(stack: Stack, temporal: Stack, data_dir: Path, **env: str) -> Iterator[str]:
    """Another API process with its own settings in front of the shared stack's worker and storage,
    for tests that need other keys or limits; yields its base URL."""
    s = new_stack(
        temporal,
        data_dir,
        SHARED_QUEUE,
        RECAST_STORAGE_URL=f"fs://{(stack.data_dir / 'storage').resolve()}",
        **env,
    )
    try:
        port = free_port()
        s.start_api("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        s.stop()


def activity_attempts(temporal: Stack, job_id: str, activity_type: str) -> list[int]:
    """Attempt numbers of each started `activity_type` in the job's history (ordinary or local)."""

    async def read() -> list[int]:
        client = await Client.connect(temporal.env["RECAST_TEMPORAL_ADDRESS"])
        scheduled: dict[int, str] = {}
        attempts = []
        async for event in client.get_workflow_handle(job_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = event.activity_task_started_event_attributes
                if scheduled.get(attrs.scheduled_event_id) == activity_type:
                    attempts.append(attrs.attempt)
            if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                # A local activity leaves one marker holding its last attempt number.
                marker = event.marker_recorded_event_attributes
                data = json.loads(marker.details["data"].payloads[0].data) if "data" in marker.details else {}
                if data.get("activity_type") == activity_type:
                    attempts.append(data["attempt"])
        return attempts

    return asyncio.run(read())


def add_key(keys_file: Path, org: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m recast.infra.keys add ORG --file KEYS_FILE EXTRA…` as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "recast.infra.keys", "add", org, "--file", str(keys_file), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
