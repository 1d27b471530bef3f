"""Activity metrics: attempts and activities in flight for every activity, encode time and speed for
the output activities, webhook deliveries by outcome.

A worker interceptor, so no activity carries metrics code of its own. It records through the Temporal
runtime's metric meter (`recast/infra/metrics.py`), so these are served with the SDK's `temporal_*`
metrics on the worker's one endpoint; with metrics off the meter is a no-op. Names, labels and buckets
are defined in `recast/core/metrics.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError, is_cancelled_exception
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from recast.core import metrics
from recast.core.contract import DELIVER_WEBHOOK, OUTPUT_ACTIVITIES
from recast.core.payloads import EncodeRequest, EncodeResult
from recast.core.specs import OutputSpec
from recast.core.webhooks import EVENTS, WebhookDelivery


class ActivityMetrics(Interceptor):
    """Register with the worker (`interceptors=[ActivityMetrics(meter)]`); `meter` is the runtime's."""

    def __init__(self, meter: MetricMeter) -> None:
        self.attempts = meter.create_counter(metrics.ACTIVITY_ATTEMPTS.name, metrics.ACTIVITY_ATTEMPTS.help)
        self.in_flight = meter.create_gauge(
            metrics.ACTIVITIES_IN_FLIGHT.name, metrics.ACTIVITIES_IN_FLIGHT.help
        )
        self.encode_seconds = meter.create_histogram_float(
            metrics.ENCODE_SECONDS.name, metrics.ENCODE_SECONDS.help
        )
        self.realtime = meter.create_histogram_float(
            metrics.REALTIME_FACTOR.name, metrics.REALTIME_FACTOR.help
        )
        self.webhooks = meter.create_counter(metrics.WEBHOOK_DELIVERIES.name, metrics.WEBHOOK_DELIVERIES.help)
        # Every activity is async, so they all run on the worker's one event loop: a plain dict is safe.
        self.running: dict[str, int] = {}

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self)

    def started(self, name: str) -> None:
        self.running[name] = self.running.get(name, 0) + 1
        self.in_flight.set(self.running[name], {"activity": name})

    def ended(self, name: str, outcome: str) -> None:
        self.running[name] -= 1
        self.in_flight.set(self.running[name], {"activity": name})
        self.attempts.add(1, {"activity": name, "outcome": outcome})

    def encoded(self, spec: OutputSpec, result: EncodeResult, seconds: float) -> None:
        labels = {"type": spec.type.value, "codec": codec_label(spec)}
        self.encode_seconds.record(seconds, labels)
        if not spec.type.is_visual and result.duration_ms > 0 and seconds > 0:
            self.realtime.record(result.duration_ms / 1000 / seconds, labels)

    def webhook(self, delivery: WebhookDelivery, error: BaseException | None) -> None:
        if error is None:
            outcome = "delivered"
        elif isinstance(error, ApplicationError) and error.non_retryable:
            outcome = "refused"
        else:
            outcome = "failed"
        event = delivery.event if delivery.event in EVENTS else "other"
        self.webhooks.add(1, {"event": event, "outcome": outcome})


def codec_label(spec: OutputSpec) -> str:
    """The output's codec: its video codecs (a ladder may mix them: `h264+vp9`), an audio-only output's
    audio codec, `none` for pictures. A fixed, small set of values."""
    if spec.video:
        return "+".join(dict.fromkeys(variant.codec.value for variant in spec.video))
    if spec.type.is_audio:
        return spec.audio_codec.value
    return "none"


def _outcome(error: BaseException) -> str:
    return (
        "canceled" if isinstance(error, asyncio.CancelledError) or is_cancelled_exception(error) else "failed"
    )


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, recorder: ActivityMetrics) -> None:
        super().__init__(next)
        self.recorder = recorder

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        arg = input.args[0] if input.args else None
        self.recorder.started(name)
        started = time.monotonic()
        try:
            result = await self.next.execute_activity(input)
        except BaseException as exc:
            self.recorder.ended(name, _outcome(exc))
            if name == DELIVER_WEBHOOK and isinstance(arg, WebhookDelivery):
                self.recorder.webhook(arg, exc)
            raise
        self.recorder.ended(name, "succeeded")
        if name in OUTPUT_ACTIVITIES and isinstance(arg, EncodeRequest) and isinstance(result, EncodeResult):
            self.recorder.encoded(arg.spec, result, time.monotonic() - started)
        elif name == DELIVER_WEBHOOK and isinstance(arg, WebhookDelivery):
            self.recorder.webhook(arg, None)
        return result
