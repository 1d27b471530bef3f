"""The Recast worker: runs TranscodeJob and BatchJob workflows and their activities on the shared task queue, the
RecastCleanup runs of the cleanup schedule it sets up at start, and WebhookRedelivery workflows; and
the upload step (store_output) on a task queue of its own; and chunks of split-and-stitch encodes
(encode_chunk) on `{task queue}-chunks`, shared by every worker, with RECAST_CHUNK_SLOTS slots.

The upload step stores the outputs this process made, which only its scratch holds: its queue name is
unique to the process (`{task queue}-upload-{host}-{pid}-{random}`), the output activities return it
with their results, and the workflow schedules the upload there (samples-python
`activity_sticky_queues`). When the process is gone nobody polls that queue, and the workflow has the
output encoded again on another worker.

`python worker.py` — configured by the same RECAST_* variables as the API. SIGTERM/SIGINT shut it
down gracefully: running activities get `RECAST_SHUTDOWN_GRACE` seconds, then are retried elsewhere;
the outputs staged for upload are removed with the process's staging folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.worker import Worker

from activities.batch import BatchActivities
from activities.callback import CallbackActivities
from activities.chunks import ChunkActivities
from activities.cleanup import CleanupActivities
from activities.deps import Deps
from activities.encode import EncodeActivities
from activities.fetch import FetchActivities
from activities.images import ImageActivities
from activities.metrics import ActivityMetrics
from activities.previews import PreviewActivities
from activities.probe import ProbeActivities
from activities.scratch import StagingArea
from activities.sign import SignActivities
from activities.store import StoreActivities
from activities.stream import StreamActivities
from recast.core.chunking import chunk_queue
from recast.infra import config, logs, metrics, tracing
from recast.infra.activity_context import ActivityContext
from recast.infra.lifecycle import ensure_lifecycle
from recast.infra.temporal import TemporalConnectionError, connect, ensure_search_attributes, target
from workflows.batch import BatchJob
from workflows.cleanup import RecastCleanup
from workflows.metrics import JobMetrics
from workflows.redeliver import WebhookRedelivery
from workflows.transcode import TranscodeJob

log = logging.getLogger("recast.worker")


def activities(deps: Deps) -> list[Callable[..., Any]]:
    """The implementations of the activities recast.core.contract declares, each registered under its
    declared name (tests/unit/test_contract.py holds them to it)."""
    images = ImageActivities(deps)
    previews = PreviewActivities(deps)
    chunks = ChunkActivities(deps)
    return [
        FetchActivities(deps).fetch_input,
        ProbeActivities(deps).probe_input,
        EncodeActivities(deps).encode_output,
        StreamActivities(deps).package_stream,
        images.encode_image,
        images.make_thumbnails,
        previews.make_animation,
        previews.make_waveform,
        SignActivities(deps).sign_downloads,
        CallbackActivities(deps).deliver_webhook,
        BatchActivities(deps).load_batch_page,
        CleanupActivities(deps).cleanup_storage,
        chunks.plan_chunks,
        chunks.stitch_chunks,
        chunks.remove_chunks,
    ]


def chunk_activities(deps: Deps) -> list[Callable[..., Any]]:
    """The activities of the shared chunk queue (`{task queue}-chunks`): one chunk of a split encode."""
    return [ChunkActivities(deps).encode_chunk]


def upload_activities(deps: Deps) -> list[Callable[..., Any]]:
    """The activities of the worker's own task queue: the upload step."""
    return [StoreActivities(deps).store_output]


def upload_queue_name(task_queue: str) -> str:
    """A task queue name no other worker process (here or on another host) will ever poll."""
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40]
    return f"{task_queue}-upload-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def build_upload_worker(
    client: Client, settings: config.Settings, deps: Deps, meter: MetricMeter = MetricMeter.noop
) -> Worker:
    assert deps.staging is not None
    return Worker(
        client,
        task_queue=deps.staging.task_queue,
        activities=upload_activities(deps),
        max_concurrent_activities=settings.worker_activities,
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_s),
        interceptors=[ActivityContext(), ActivityMetrics(meter)],
    )


def build_worker(
    client: Client, settings: config.Settings, deps: Deps, meter: MetricMeter = MetricMeter.noop
) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TranscodeJob, BatchJob, RecastCleanup, WebhookRedelivery],
        activities=activities(deps),
        max_concurrent_activities=settings.worker_activities,
        # Progress is read from heartbeats, so send them often; the server load is small.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_s),
        # Job IDs on every activity's log lines and span (the client's tracing interceptor runs first).
        interceptors=[ActivityContext(), ActivityMetrics(meter), JobMetrics()],
    )


def build_chunk_worker(
    client: Client, settings: config.Settings, deps: Deps, meter: MetricMeter = MetricMeter.noop
) -> Worker:
    """The worker's chunk slots: `RECAST_CHUNK_SLOTS` chunks at once from the queue every worker
    shares, so a split encode spreads over the whole fleet rather than filling one worker's slots."""
    return Worker(
        client,
        task_queue=chunk_queue(settings.task_queue),
        activities=chunk_activities(deps),
        max_concurrent_activities=settings.chunk_slots,
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_s),
        interceptors=[ActivityContext(), ActivityMetrics(meter)],
    )


async def main() -> None:
    settings = config.load_or_exit()
    logs.configure_from("worker", settings)
    # Encodes are batch work: on a machine shared with the API and Temporal they yield the CPU to reads
    # and orchestration (bench/poll_load.py --case burst), and still take all of it when it is idle.
    if settings.worker_nice:
        os.nice(settings.worker_nice)
    tracing.setup("worker")  # before connecting: the client takes the tracing interceptor when on
    runtime = metrics.worker_runtime(settings)  # serves /metrics from here on, unless the port is 0
    try:
        client = await connect(settings, runtime)
        await ensure_search_attributes(client, client.namespace)
    except TemporalConnectionError as exc:
        raise SystemExit(f"worker: {exc}") from None
    # Namespace retention and the cleanup schedule: warnings, not a stop, where Temporal refuses.
    await ensure_lifecycle(client, settings)
    deps = Deps.from_settings(settings)
    deps.staging = StagingArea(settings.scratch_dir, upload_queue_name(settings.task_queue))
    worker = build_worker(client, settings, deps, metrics.meter(runtime))
    uploads = build_upload_worker(client, settings, deps, metrics.meter(runtime))
    chunk_slots = build_chunk_worker(client, settings, deps, metrics.meter(runtime))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling task queue %r (uploads: %r) on %s",
        settings.task_queue,
        deps.staging.task_queue,
        target(settings).describe(),
    )
    if runtime is not None:
        log.info(
            "metrics at http://%s:%d/metrics", settings.worker_metrics_host, settings.worker_metrics_port
        )
    async with uploads, chunk_slots, worker:
        await stop.wait()
        log.info("shutting down")
    deps.probes.close()
    deps.staging.close()
    tracing.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    # Skip interpreter finalization: the SDK's core threads can crash it (sdk-python #300, exit 134)
    # after a clean shutdown, which would make a graceful stop look like a failure.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
