"""Traces: a job's spans, exported by the real API and worker over OTLP/HTTP to a loopback receiver,
form one trace under the client's `traceparent` — submit, workflow, every activity — each naming the
job (and the output, for an output's activity). Without an endpoint, nothing of it is loaded."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from recast.devstack.stack import ROOT, Stack
from tests.helpers import own_api
from tests.helpers.otlp import Span, otlp_receiver

OUTPUTS = [
    {"type": "mp4", "video": {"codec": "h264", "resolution": "480p"}},
    {"type": "jpg", "image": {"width": 160}},
]


def test_a_jobs_trace_holds_submit_workflow_and_every_activity(
    temporal: Stack, http_server: str, tmp_path: Path
) -> None:
    with otlp_receiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            # Export each batch within 0.1 s instead of the default 5 s: the test waits less.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        with own_api(temporal, tmp_path / "stack", f"recast-{tmp_path.name}", **env) as api:
            trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
            resp = api.http.post(
                "/v1/jobs",
                json={"input_url": f"{http_server}/small.mp4", "outputs": OUTPUTS},
                headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
            )
            assert resp.status_code == 202, resp.text
            job = api.wait(resp.json()["id"])
            assert job["status"] == "completed", job
            image_out, video_out = job["outputs"][1]["id"], job["outputs"][0]["id"]

            def run(activity: str, spans: list[Span]) -> list[Span]:
                return [s for s in spans if s.name == f"RunActivity:{activity}"]

            def complete(spans: list[Span]) -> bool:
                return bool(run("sign_downloads", spans)) and any(
                    s.name.startswith("CompleteWorkflow") for s in spans
                )

            spans = receiver.wait_for(complete)

        # One trace, the client's, holds everything the job did; each poll is a trace of its own.
        mine = [s for s in spans if s.trace_id == trace_id]
        names = {s.name for s in mine}
        temporal_spans = [s for s in spans if s.attributes.get("temporalWorkflowID") == job["id"]]
        assert temporal_spans and {s.trace_id for s in temporal_spans} == {trace_id}
        assert all(s.attributes.get("recast.job_id") == job["id"] for s in mine), names
        # The submit request, a child of the client's span, naming the job.
        submit = [s for s in mine if s.service == "recast-api" and s.name == "POST /v1/jobs"]
        assert len(submit) == 1, names
        assert submit[0].parent_span_id == parent_id
        start = next(s for s in mine if s.name == "StartWorkflow:TranscodeJob")
        assert start.parent_span_id == submit[0].span_id
        # The workflow, run by the worker under the API's start.
        run_workflow = next(s for s in mine if s.name == "RunWorkflow:TranscodeJob")
        assert run_workflow.service == "recast-worker" and run_workflow.parent_span_id == start.span_id
        # Every activity, each with the job, the attempt, and its output when it makes one.
        for activity in ("fetch_input", "probe_input", "encode_output", "encode_image", "sign_downloads"):
            found = run(activity, mine)
            assert len(found) == 1, (activity, names)
            assert found[0].service == "recast-worker"
            assert found[0].attributes["recast.attempt"] == 1
        assert run("encode_output", mine)[0].attributes["recast.output_id"] == video_out
        assert run("encode_image", mine)[0].attributes["recast.output_id"] == image_out
        # Each activity span hangs under the workflow's StartActivity span for it.
        by_id = {s.span_id: s for s in mine}
        for span in mine:
            if span.name.startswith("RunActivity:"):
                assert by_id[span.parent_span_id].name == "StartActivity:" + span.name.split(":")[1]


def test_without_an_endpoint_nothing_of_tracing_is_loaded() -> None:
    """No OTEL_EXPORTER_OTLP_ENDPOINT: the API and the worker build as usual, with no interceptor, no
    instrumentation, and the OpenTelemetry SDK never imported."""
    code = """
import json, sys
from api.app import create_app
from recast.infra import config, tracing
from worker import build_worker
app = create_app(config.Settings(storage_url="memory://"))
print(json.dumps({
    "sdk": sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.instrumentation",
                                                          "temporalio.contrib.opentelemetry"))),
    "interceptors": tracing.client_interceptors(),
    "middleware": [m.cls.__name__ for m in app.user_middleware],
}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["sdk"] == [] and found["interceptors"] == []
    # Our request context (log lines) stays; no OpenTelemetry middleware is installed.
    assert "_RequestContext" in found["middleware"]
    assert not [m for m in found["middleware"] if "OpenTelemetry" in m], found["middleware"]
