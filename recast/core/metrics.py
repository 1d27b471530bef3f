"""The names of Recast's worker metrics, their labels and histogram buckets, defined once.

The worker records them through the Temporal SDK's metric meter (the workflow's is replay-safe), so
they are served on the same Prometheus endpoint as the SDK's own `temporal_*` metrics
(`recast/infra/metrics.py` starts it). Names are complete Prometheus names: the runtime appends
`_total` to counters and nothing else (units are never passed to the meter, so no suffix is added).
Label values are drawn from fixed sets (statuses, output types, codecs, error codes, activity names):
never a job or output ID, a key, a URL or anything else that grows with traffic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str  # as exposed, without the `_total` a counter gets
    kind: Literal["counter", "histogram", "gauge"]
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def exposed(self) -> str:
        """The family name a scrape shows (counters end in `_total`)."""
        return f"{self.name}_total" if self.kind == "counter" else self.name


_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

JOBS_FINISHED = Metric(
    "recast_jobs_finished",
    "counter",
    "Jobs that ended, by final status (completed, partial, failed, canceled).",
    ("status",),
)
JOB_FAILURES = Metric(
    "recast_job_failures",
    "counter",
    "Jobs that ended failed, by the job's error_code.",
    ("code",),
)
OUTPUT_FAILURES = Metric(
    "recast_output_failures",
    "counter",
    "Outputs that failed on their own (not because their job failed first), by output type and error_code.",
    ("type", "code"),
)
QUEUE_WAIT = Metric(
    "recast_job_queue_wait_seconds",
    "histogram",
    "From submission to the job's first workflow step on a worker (the Job's "
    "execution.queue_duration_ms), recorded when the job ends.",
    (),
    _SECONDS,
)
INPUT_BYTES = Metric(
    "recast_input_bytes",
    "counter",
    "Bytes of the inputs of jobs that ended (a join: every input).",
)
OUTPUT_BYTES = Metric(
    "recast_output_bytes",
    "counter",
    "Bytes of completed outputs, by output type.",
    ("type",),
)
ENCODE_SECONDS = Metric(
    "recast_output_encode_seconds",
    "histogram",
    "Wall seconds of a successful output activity attempt (ffmpeg and the checks; storing too unless "
    "the upload step, store_output, does it), by output type and codec.",
    ("type", "codec"),
    _SECONDS,
)
REALTIME_FACTOR = Metric(
    "recast_output_realtime_factor",
    "histogram",
    "Media seconds made per wall second by a successful output activity attempt (above 1: faster than "
    "real time), by output type and codec; not recorded for images and thumbnails.",
    ("type", "codec"),
    (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
)
ACTIVITIES_IN_FLIGHT = Metric(
    "recast_activities_in_flight",
    "gauge",
    "Activities this worker is running now, by activity name.",
    ("activity",),
)
ACTIVITY_ATTEMPTS = Metric(
    "recast_activity_attempts",
    "counter",
    "Activity attempts this worker finished, by activity name and outcome (succeeded, failed, "
    "canceled); a failed attempt is retried unless it was the last.",
    ("activity", "outcome"),
)
WEBHOOK_DELIVERIES = Metric(
    "recast_webhook_deliveries",
    "counter",
    "Webhook delivery attempts, by event and outcome: delivered (2xx), failed (retried with "
    "backoff), refused (not retried: a forbidden or invalid URL).",
    ("event", "outcome"),
)

WORKER_METRICS = (
    JOBS_FINISHED,
    JOB_FAILURES,
    OUTPUT_FAILURES,
    QUEUE_WAIT,
    INPUT_BYTES,
    OUTPUT_BYTES,
    ENCODE_SECONDS,
    REALTIME_FACTOR,
    ACTIVITIES_IN_FLIGHT,
    ACTIVITY_ATTEMPTS,
    WEBHOOK_DELIVERIES,
)

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def code_label(code: str | None) -> str:
    """An error code as a label value: codes are Recast's own short names; anything else (an
    unexpected exception's type, a message) becomes `other`, so a label never grows without bound."""
    return code if code and _CODE.fullmatch(code) else "other"
