"""OpenTelemetry traces, one per job: the API's submit request → the workflow → each activity.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; off, nothing
of the OpenTelemetry SDK is imported and no interceptor or instrumentation is installed, so it costs
nothing. On, spans go by OTLP over HTTP (protobuf) to that endpoint, batched, configured by the
standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS,
OTEL_TRACES_SAMPLER, OTEL_BSP_*…): the SDK reads them itself.

Temporal's `TracingInterceptor` carries the trace from the API's Temporal client through the workflow
to its activities (a header on every start); FastAPI's instrumentation makes the request's span the
parent, and honours a client's W3C `traceparent`. Every Temporal span gets `recast.job_id` (the
workflow ID is the job ID); activities add `recast.output_id` on their own span (`tag`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("recast.tracing")

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Recast's span attributes, by the name `tag` takes them as.
ATTRIBUTES = {"job_id": "recast.job_id", "output_id": "recast.output_id", "attempt": "recast.attempt"}
_provider: Any = None  # the SDK's TracerProvider once `setup` ran with traces on


def endpoint(env: dict[str, str] | None = None) -> str | None:
    """Where the environment asks traces to go: the OTLP endpoint, unless the SDK is disabled."""
    env = dict(os.environ) if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    return next((env[name].strip() for name in ENDPOINT_VARS if env.get(name, "").strip()), None)


def wanted(env: dict[str, str] | None = None) -> bool:
    return endpoint(env) is not None


def enabled() -> bool:
    return _provider is not None


def setup(service: str) -> bool:
    """Install the global tracer provider exporting by OTLP/HTTP, when the environment asks for traces;
    `service` names the process (`recast-<service>`) unless OTEL_SERVICE_NAME does. Returns whether on."""
    global _provider
    if _provider is not None or not wanted():
        return _provider is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from recast.infra import logs

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip() != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported: exporting http/protobuf", protocol)
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win over this default.
    attrs = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"recast-{service}"}
    provider = TracerProvider(resource=Resource.create(attrs))
    provider.add_span_processor(_job_id_processor())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    logs.with_trace_ids(_current_ids)
    log.info("traces exported by OTLP to %s", endpoint())
    return True


def client_interceptors() -> list[Any]:
    """For `Client.connect(interceptors=…)`: Temporal's tracing interceptor when traces are on (the
    worker takes it from its client), nothing otherwise."""
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def tag(job_id: str | None = None, output_id: str | None = None, attempt: int | None = None) -> None:
    """Set Recast's attributes (`ATTRIBUTES`) on the current span (an activity's, the submit request's);
    a no-op with traces off."""
    if _provider is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    for name, value in (("job_id", job_id), ("output_id", output_id), ("attempt", attempt)):
        if value is not None:
            span.set_attribute(ATTRIBUTES[name], value)


def shutdown() -> None:
    """Export what is still batched (a worker leaves with os._exit, which would drop it)."""
    if _provider is not None:
        _provider.shutdown()


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _job_id_processor() -> Any:
    from opentelemetry.sdk.trace import SpanProcessor

    from recast.infra import logs

    class JobIdProcessor(SpanProcessor):
        """Every span Temporal's interceptor makes names its workflow (`temporalWorkflowID`), and a
        Recast workflow's ID is its job's: add it as `recast.job_id`, the attribute to find a job by."""

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            workflow_id = (span.attributes or {}).get("temporalWorkflowID")
            job_id = logs.job_of(workflow_id if isinstance(workflow_id, str) else None)
            if job_id:
                span.set_attribute(ATTRIBUTES["job_id"], job_id)

    return JobIdProcessor()
