"""Record one workflow history of every kind of Recast job into a folder, for the replay check
(tests/workflow/test_replay.py replays every history under tests/workflow/histories/ against today's
TranscodeJob; docs/workflow-changes.md says when to record a new set).

    .venv/bin/python scripts/record_histories.py tests/workflow/histories/<set-name> [--only NAME …]

It runs the real thing from this checkout, as `make run` does but on free loopback ports: a Temporal dev
server (in memory), a worker and an API on local storage, real ffmpeg on clips made with lavfi, and a
loopback HTTP server for URL inputs and a webhook receiver that fails its first two deliveries. Each
kind of job is driven through the public API (or, for a child job, from a parent workflow through
`recast.client.child`) to its end, and its history is written as `NAME.json` — the JSON the Temporal
CLI and Web UI export. Nothing is downloaded; it takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from temporalio import workflow  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.worker import UnsandboxedWorkflowRunner, Worker  # noqa: E402

from recast.client import child  # noqa: E402
from recast.core.job import Job  # noqa: E402
from recast.devstack.stack import Stack, free_port  # noqa: E402
from tests.helpers.media import make_clip  # noqa: E402

KEY, ORG, QUEUE = "record-key", "acme", "recast"
TERMINAL = {"completed", "failed", "partial", "canceled"}
SMALL_MP4 = {"type": "mp4", "video": {"codec": "h264", "width": 320}}
SLOW_WEBM = {"type": "webm", "video": {"codec": "vp9", "resolution": "720p", "quality": "premium"}}
WAIT_S = 120


@dataclass
class Ctx:
    api: httpx.AsyncClient
    client: Client
    files: str  # base URL of the loopback file server
    clips: dict[str, Path]

    async def upload(self, clip: str, outputs: list[dict[str, Any]], **fields: str) -> str:
        path = self.clips[clip]
        resp = await self.api.post(
            "/v1/jobs",
            files={"media": (path.name, path.read_bytes(), "video/mp4")},
            data={"outputs": json.dumps(outputs), **fields},
        )
        assert resp.status_code == 202, resp.text
        job_id: str = resp.json()["id"]
        return job_id

    async def submit(self, body: dict[str, Any]) -> str:
        resp = await self.api.post("/v1/jobs", json=body)
        assert resp.status_code == 202, resp.text
        job_id: str = resp.json()["id"]
        return job_id

    async def until(self, job_id: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while True:
            job: dict[str, Any] = (await self.api.get(f"/v1/jobs/{job_id}")).json()
            if ready(job):
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"{job_id} never got there: {job.get('status')}")
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------- the kinds of job ----------------------


async def single_output(ctx: Ctx) -> str:
    return await ctx.upload("small", [SMALL_MP4])


async def chunked_output(ctx: Ctx) -> str:
    """Split-and-stitch: the output in two chunks of 1 s, stitched (workflows/chunked.py)."""
    return await ctx.upload("small", [SMALL_MP4], chunking="on", chunk_duration="1")


async def chunked_ladder(ctx: Ctx) -> str:
    """Split-and-stitch of an HLS ladder: two chunks of 1 s, each encoding both rungs, stitched and
    packaged (workflows/chunked.py, patch chunked-ladder)."""
    ladder = {
        "type": "hls",
        "video": [{"codec": "h264"}, {"codec": "h264", "height": 180}],
        "segments": {"duration": 1},
    }
    return await ctx.upload("small", [ladder], chunking="on", chunk_duration="1")


async def ladder_thumbnails_image_join_clip(ctx: Ctx) -> str:
    return await ctx.submit(
        {
            "inputs": [f"{ctx.files}/small.mp4", f"{ctx.files}/long.mp4"],
            "clip": {"start": 0.5, "end": 4.5},
            "outputs": [{"preset": "hls-ladder"}, {"preset": "thumbnail-strip"}, {"type": "jpg"}, SMALL_MP4],
        }
    )


async def delayed_start_confirmed(ctx: Ctx) -> str:
    job_id = await ctx.upload("small", [SMALL_MP4], delayed_start="true")
    await ctx.until(job_id, lambda j: j["status"] == "awaiting_confirmation")
    resp = await ctx.api.post(f"/v1/jobs/{job_id}/confirm")
    assert resp.status_code == 200, resp.text
    return job_id


async def delayed_start_timed_out(ctx: Ctx) -> str:
    return await ctx.upload("small", [SMALL_MP4], delayed_start="true")  # RECAST_CONFIRMATION_TIMEOUT=3


async def cancel_mid_encode(ctx: Ctx) -> str:
    job_id = await ctx.upload("long", [SLOW_WEBM, SMALL_MP4])
    await ctx.until(job_id, lambda j: j["status"] == "processing" and j["progress"] > 20)
    resp = await ctx.api.post(f"/v1/jobs/{job_id}/cancel")
    assert resp.status_code == 200, resp.text
    return job_id


async def partial_failure(ctx: Ctx) -> str:
    return await ctx.upload("silent", [SMALL_MP4, {"type": "mp3"}])  # no audio: the mp3 fails


async def failed_at_probe(ctx: Ctx) -> str:
    return await ctx.upload("notmedia", [SMALL_MP4])


async def webhook_retries(ctx: Ctx) -> str:
    hook = f"{ctx.files}/hook"
    return await ctx.upload("small", [SMALL_MP4], webhook_url=hook, webhook_secret="whsec-record")


@workflow.defn
class ParentWorkflow:
    """Another project's workflow, running a Recast job as its child (recast.client.child)."""

    @workflow.run
    async def run(self, url: str) -> child.Job:
        params = child.job_params(
            job_id="job_" + workflow.uuid4().hex[:20],
            organization=ORG,
            input_url=url,
            outputs=[SMALL_MP4],
            created_at=workflow.now(),
        )
        return await workflow.execute_child_workflow(
            child.WORKFLOW, params, id=params.job_id, task_queue=QUEUE, result_type=child.Job
        )


async def child_job(ctx: Ctx) -> str:
    queue = "record-parent"
    async with Worker(
        ctx.client, task_queue=queue, workflows=[ParentWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        job = await ctx.client.execute_workflow(
            ParentWorkflow.run,
            f"{ctx.files}/small.mp4",
            id=f"record-parent-{time.time_ns()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=WAIT_S),
        )
    return job.id


async def previews_waveform_watermark(ctx: Ctx) -> str:
    """The output types of make_animation and make_waveform, and a watermark fetched by encode_output."""
    watermarked = {**SMALL_MP4, "watermark": {"image": f"{ctx.files}/logo.png", "position": "top-left"}}
    return await ctx.upload(
        "small",
        [
            {"type": "gif", "animation": {"duration": 1}},
            {"type": "webp", "animation": {}},
            {"type": "waveform"},
            watermarked,
        ],
    )


SCENARIOS: dict[str, Callable[[Ctx], Awaitable[str]]] = {
    f.__name__: f
    for f in (
        single_output,
        ladder_thumbnails_image_join_clip,
        delayed_start_confirmed,
        delayed_start_timed_out,
        cancel_mid_encode,
        partial_failure,
        failed_at_probe,
        webhook_retries,
        child_job,
        previews_waveform_watermark,
        chunked_output,
        chunked_ladder,
    )
}


# ---------------------------------------------------------------- around them ---------------------------


def serve(files: Path, hook_calls: list[int]) -> ThreadingHTTPServer:
    """Files for URL inputs; POST /hook answers 500 twice, then 204 (a receiver that recovers)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = files / self.path.lstrip("/")
            if not target.is_file():
                self.send_error(404)
                return
            body = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook_calls.append(1)
            self.send_response(500 if len(hook_calls) <= 2 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd


def make_clips(d: Path) -> dict[str, Path]:
    notmedia = d / "notes.mp4"
    notmedia.write_bytes(b"this is a text file pretending to be a video\n" * 20)
    return {
        "small": make_clip(d / "small.mp4"),
        "silent": make_clip(d / "silent.mp4", audio=False),
        "long": make_clip(d / "long.mp4", seconds=6, size="1280x720"),
        "notmedia": notmedia,
        "logo": _logo(d / "logo.png"),
    }


def _logo(path: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=40x20", "-frames:v", "1",
                    str(path)], check=True)  # fmt: skip
    return path


async def record(out: Path, only: list[str], stack: Stack, clips: dict[str, Path], files: str) -> None:
    """Run each kind of job on the stack and write its history into `out`."""
    client = await Client.connect(
        stack.env["RECAST_TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter
    )
    async with httpx.AsyncClient(
        base_url=stack.env["API_URL"], headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as api:
        ctx = Ctx(api=api, client=client, files=files, clips=clips)
        for name, run in SCENARIOS.items():
            if only and name not in only:
                continue
            job_id = await run(ctx)
            handle = client.get_workflow_handle(job_id, result_type=Job)
            job = await asyncio.wait_for(handle.result(), WAIT_S)
            history = await handle.fetch_history()
            await asyncio.to_thread((out / f"{name}.json").write_text, history.to_json())
            print(f"{name}: {job.status.value}, {len(history.events)} events → {out / name}.json")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder to write NAME.json into")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(SCENARIOS), help="record only these")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recast-record-") as tmp:
        d = Path(tmp)
        clips = make_clips(d)
        httpd = serve(d, [])
        env = {
            "RECAST_API_KEYS": f"{KEY}={ORG}",
            "RECAST_SIGNING_SECRET": "record-secret",
            "RECAST_TASK_QUEUE": QUEUE,
            "RECAST_CONFIRMATION_TIMEOUT": "3",
            "RECAST_WEBHOOK_RETRY": "60",
            "RECAST_URL_ALLOWLIST": "127.0.0.1/32",
        }
        with Stack(data_dir=d / "stack", env=env, quiet=True) as stack:
            stack.start_temporal(free_port(), None)
            stack.start_worker()
            port = free_port()
            stack.start_api("127.0.0.1", port)
            stack.env["API_URL"] = f"http://127.0.0.1:{port}"
            files = f"http://127.0.0.1:{httpd.server_address[1]}"
            asyncio.run(record(args.out, args.only, stack, clips, files))
        httpd.shutdown()
    # Skip interpreter finalization: the SDK's core threads can crash it (sdk-python #300, exit 134).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
