"""Job metrics, recorded once per job when its TranscodeJob workflow returns the final Job.

A worker interceptor rather than code in the workflow: TranscodeJob stays as it is (no history changes,
nothing to gate with `workflow.patched`). It records through `workflow.metric_meter()`, which is
replay-safe: a job replayed on another worker (after a cache eviction or a restart) is not counted
again. Like the workflow, it imports only temporalio and recast.core.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from recast.core import metrics
    from recast.core.job import Job, JobStatus, OutputStatus

# Outputs the workflow marks failed because the job failed first: the job's own code counts that failure.
_JOB_FAILED = "job-failed"


class JobMetrics(Interceptor):
    """Register with the worker (`interceptors=[JobMetrics()]`) to record the `recast_job*` metrics."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _JobMetricsInbound


class _JobMetricsInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await self.next.execute_workflow(input)
        if isinstance(result, Job):
            record(result)
        return result


def record(job: Job) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(metrics.JOBS_FINISHED.name, metrics.JOBS_FINISHED.help).add(
        1, {"status": job.status.value}
    )
    if job.status is JobStatus.failed:
        meter.create_counter(metrics.JOB_FAILURES.name, metrics.JOB_FAILURES.help).add(
            1, {"code": metrics.code_label(job.error_code)}
        )
    if job.execution.queue_duration_ms is not None:
        meter.create_histogram_float(metrics.QUEUE_WAIT.name, metrics.QUEUE_WAIT.help).record(
            job.execution.queue_duration_ms / 1000
        )
    sizes = [part.size for part in job.inputs] if job.inputs else [job.input.size]
    in_bytes = sum(size for size in sizes if size)
    if in_bytes:
        meter.create_counter(metrics.INPUT_BYTES.name, metrics.INPUT_BYTES.help).add(in_bytes)
    out_bytes = meter.create_counter(metrics.OUTPUT_BYTES.name, metrics.OUTPUT_BYTES.help)
    failures = meter.create_counter(metrics.OUTPUT_FAILURES.name, metrics.OUTPUT_FAILURES.help)
    for out in job.outputs:
        if out.status is OutputStatus.completed and out.file_size_bytes:
            out_bytes.add(out.file_size_bytes, {"type": out.type.value})
        elif out.status is OutputStatus.failed and out.error_code != _JOB_FAILED:
            failures.add(1, {"type": out.type.value, "code": metrics.code_label(out.error_code)})
