"""`ActivityContext`: a worker interceptor that gives every activity's log lines and trace span the job's
IDs, and logs each activity's start and outcome.

One interceptor instead of the same lines in every activity: the job ID is the TranscodeJob's workflow ID, the output
ID is on the request of the activities that make one output (and of a webhook about one), the attempt
is Temporal's. Inside, every line logged — by the activity, ffmpeg's runner, the SDK, a library —
carries them (`recast.infra.logs.context`), and so does the activity's span when traces are on (it runs
inside Temporal's tracing interceptor, so the current span is the activity's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from recast.infra import logs, tracing

log = logging.getLogger("recast.activity")


class ActivityContext(Interceptor):
    """For `Worker(interceptors=[…])`: after the tracing interceptor, which the client brings first."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        output_id = next((o for a in input.args if isinstance(o := getattr(a, "output_id", None), str)), None)
        job_id = logs.job_of(info.workflow_id)
        fields = {"job_id": job_id, "output_id": output_id, "attempt": info.attempt}
        tracing.tag(job_id, output_id, info.attempt)
        with logs.context(**{k: v for k, v in fields.items() if v is not None}, activity=info.activity_type):
            log.info("%s started", info.activity_type)
            started = time.monotonic()
            try:
                result = await self.next.execute_activity(input)
            except asyncio.CancelledError:
                log.warning("%s canceled", info.activity_type, extra={"seconds": _since(started)})
                raise
            except ApplicationError as exc:
                log.warning(
                    "%s failed: %s",
                    info.activity_type,
                    exc.message,
                    extra={
                        "error_code": exc.type,
                        "retryable": not exc.non_retryable,
                        "seconds": _since(started),
                    },
                )
                raise
            except Exception as exc:
                log.warning(
                    "%s failed: %s: %s",
                    info.activity_type,
                    type(exc).__name__,
                    exc,
                    extra={"error_code": "internal", "seconds": _since(started)},
                )
                raise
            log.info(
                "%s finished", info.activity_type, extra={"seconds": _since(started), "bytes": _bytes(result)}
            )
            return result


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _bytes(result: Any) -> int | None:
    """The size of what the activity stored: an output's file(s), or a fetched or probed input."""
    for name in ("file_size_bytes", "size"):
        value = getattr(result, name, None)
        if isinstance(value, int):
            return value
    return None
