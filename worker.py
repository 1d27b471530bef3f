"""The Recast worker: runs TranscodeJob workflows and their activities on one task queue, the
RecastCleanup runs of the cleanup schedule it sets up at start, and WebhookRedelivery workflows.

`python worker.py` — configured by the same RECAST_* variables as the API. SIGTERM/SIGINT shut it
down gracefully: running activities get `RECAST_SHUTDOWN_GRACE` seconds, then are retried elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.worker import Worker

from activities.callback import CallbackActivities
from activities.cleanup import CleanupActivities
from activities.deps import Deps
from activities.encode import EncodeActivities
from activities.fetch import FetchActivities
from activities.images import ImageActivities
from activities.probe import ProbeActivities
from activities.sign import SignActivities
from activities.stream import StreamActivities
from recast.infra import config, logs, tracing
from recast.infra.activity_context import ActivityContext
from recast.infra.lifecycle import ensure_lifecycle
from recast.infra.temporal import connect, ensure_search_attributes
from workflows.cleanup import RecastCleanup
from workflows.redeliver import WebhookRedelivery
from workflows.transcode import TranscodeJob

log = logging.getLogger("recast.worker")


def activities(deps: Deps) -> list[Callable[..., Any]]:
    """The implementations of the activities recast.core.contract declares, each registered under its
    declared name (tests/unit/test_contract.py holds them to it)."""
    images = ImageActivities(deps)
    return [
        FetchActivities(deps).fetch_input,
        ProbeActivities(deps).probe_input,
        EncodeActivities(deps).encode_output,
        StreamActivities(deps).package_stream,
        images.encode_image,
        images.make_thumbnails,
        SignActivities(deps).sign_downloads,
        CallbackActivities(deps).deliver_webhook,
        CleanupActivities(deps).cleanup_storage,
    ]


def build_worker(client, settings: config.Settings, deps: Deps) -> Worker:  # type: ignore[no-untyped-def]
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TranscodeJob, RecastCleanup, WebhookRedelivery],
        activities=activities(deps),
        max_concurrent_activities=settings.worker_activities,
        # Progress is read from heartbeats, so send them often; the server load is small.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_s),
        # Job IDs on every activity's log lines and span (the client's tracing interceptor runs first).
        interceptors=[ActivityContext()],
    )


async def main() -> None:
    settings = config.load_or_exit()
    logs.configure_from("worker", settings)
    tracing.setup("worker")  # before connecting: the client takes the tracing interceptor when on
    client = await connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    # Namespace retention and the cleanup schedule: warnings, not a stop, where Temporal refuses.
    await ensure_lifecycle(client, settings)
    deps = Deps.from_settings(settings)
    worker = build_worker(client, settings, deps)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling task queue %r on %s", settings.task_queue, settings.temporal_address or "default"
    )
    async with worker:
        await stop.wait()
        log.info("shutting down")
    deps.probes.close()
    tracing.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    # Skip interpreter finalization: the SDK's core threads can crash it (sdk-python #300, exit 134)
    # after a clean shutdown, which would make a graceful stop look like a failure.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
