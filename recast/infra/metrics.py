"""The worker's Prometheus endpoint: a Temporal runtime that serves the SDK's `temporal_*` metrics and
Recast's own `recast_*` (recorded through the same runtime's meter) on one port.

Why the Temporal meter and not prometheus_client in the worker: the SDK's metrics come from its Rust
core, which serves them itself; recording Recast's through the same meter puts both on one endpoint, and
the workflow's meter skips recording during replay, so a job is counted once however often it replays.
The exporter is set to Prometheus conventions: counters end in `_total`, durations are seconds with
`_seconds` names (`temporal_activity_execution_latency_seconds`).
"""

from __future__ import annotations

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from recast.core.metrics import WORKER_METRICS
from recast.infra.config import Settings


def worker_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving `/metrics` on RECAST_WORKER_METRICS_HOST:PORT, or None when the port is 0 (the
    SDK's default runtime then records nothing). A port already taken ends the process with a message
    naming the variable."""
    if not settings.worker_metrics_port:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_metrics_host}:{settings.worker_metrics_port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={m.name: list(m.buckets) for m in WORKER_METRICS if m.buckets},
    )
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as exc:  # the SDK's "Failed starting Prometheus exporter: Address already in use"
        raise SystemExit(
            f"recast: cannot serve worker metrics on {prometheus.bind_address}: {exc}. Set "
            "RECAST_WORKER_METRICS_PORT to a free port (each worker on a host needs its own), or 0 for none."
        ) from None


def meter(runtime: Runtime | None) -> MetricMeter:
    """Where the worker's own activity metrics go: the runtime's meter, or nowhere when metrics are off."""
    return runtime.metric_meter if runtime is not None else MetricMeter.noop
