"""Where Recast's time over bare ffmpeg goes: the figures behind docs/benchmarks.md's "Encode overhead" breakdown.

    .venv/bin/python bench/overhead_parts.py [--jobs 3]

1. One job at a time through a fresh stack (the encode_overhead clip and output): its workflow
   history as offsets from the POST — start, the first workflow task (which runs the input probe),
   the encode activity's scheduling and run, completion.
2. ffmpeg run the way the encode activity runs it (`run_ffmpeg`: asyncio, progress pipe, parent-death
   signal) against `subprocess.run`, alternating, on an otherwise idle machine; then the probes of the
   input and of the output, by a fresh ffprobe and by the worker's spare (activities/warm_ffprobe.py).
   The encode activity's run (history) minus ffmpeg and the check is ffmpeg's slowdown while the
   orchestration shares the cores.
3. The latency of the submit limits' visibility count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.ffmpeg_process import run_ffmpeg  # noqa: E402
from activities.warm_ffprobe import WarmProbes  # noqa: E402
from api.limits import active_query  # noqa: E402
from bench.clips import RESULTS, bench_stack, make_clip  # noqa: E402
from bench.encode_overhead import KEY, OUTPUT  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.devstack.stack import Stack  # noqa: E402
from recast.media import probe, renditions  # noqa: E402


async def history(address: str, job_id: str) -> list[tuple[datetime, str]]:
    client = await Client.connect(address)
    events = await client.get_workflow_handle(job_id).fetch_history()
    return [
        (e.event_time.ToDatetime().replace(tzinfo=UTC), e.WhichOneof("attributes") or "")
        for e in events.events
    ]


def timelines(stack: Stack, http: httpx.Client, clip: Path, jobs: int) -> None:
    shown = ("workflow_execution_started", "workflow_task_", "activity_task_", "workflow_execution_completed")
    for n in range(jobs + 1):  # the first is a warm-up
        start = datetime.now(UTC)
        with clip.open("rb") as fh:
            job = http.post(
                "/v1/jobs", files={"media": (clip.name, fh)}, data={"outputs": json.dumps([OUTPUT])}
            )
        job_id = job.json()["id"]
        while (done := http.get(f"/v1/jobs/{job_id}").json())["status"] not in (
            "completed",
            "failed",
            "partial",
        ):
            time.sleep(0.5)
        if n == 0:
            continue
        print(f"job {n}: {done['status']}, execution {done['execution']}")
        for at, kind in asyncio.run(history(stack.env["RECAST_TEMPORAL_ADDRESS"], job_id)):
            if kind.startswith(shown):
                print(
                    f"  {(at - start).total_seconds() * 1000:8.1f} ms  {kind.removesuffix('_event_attributes')}"
                )


def run_ffmpeg_vs_bare(clip: Path, workdir: Path, rounds: int = 5) -> None:
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    plan = renditions.encode_plan(OutputSpec.model_validate(OUTPUT), meta, clip, workdir / "o.mp4")
    bare, recast = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(plan.args, check=True, stdout=subprocess.DEVNULL)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        asyncio.run(run_ffmpeg(plan.args, meta.duration_ms / 1000, 60, lambda _: None))
        recast.append(time.perf_counter() - t)
    b, r = statistics.median(bare), statistics.median(recast)
    print(f"ffmpeg bare {b:.3f} s, through run_ffmpeg {r:.3f} s: ratio {r / b:.4f} (medians of {rounds})")
    # The probes on the job's critical path: the input, then the output's check. A fresh ffprobe each
    # (the previous design) against the worker's spare, started ahead (activities/warm_ffprobe.py).
    probes = WarmProbes()
    for name, path in (("input", clip), ("720p output", workdir / "o.mp4")):
        fresh, warm = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            asyncio.run(probe.probe_raw(path))
            fresh.append((time.perf_counter() - t) * 1000)
            asyncio.run(probes.probe_raw(path))  # this one leaves a spare started
            time.sleep(0.2)  # as in a job: the spare starts while the previous probe or the encode runs
            t = time.perf_counter()
            asyncio.run(probes.probe_raw(path))
            warm.append((time.perf_counter() - t) * 1000)
        f, w = statistics.median(fresh), statistics.median(warm)
        print(
            f"probe of the {name}: fresh ffprobe {f:.0f} ms, the worker's spare {w:.0f} ms (medians of {rounds})"
        )
    probes.close()


async def visibility_count(address: str, rounds: int = 20) -> None:
    client = await Client.connect(address)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        await client.count_workflows(active_query("bench"))
        times.append((time.perf_counter() - t) * 1000)
    print(f"submit limits' visibility count: median {statistics.median(times):.1f} ms ({rounds} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    clip = make_clip(RESULTS / "clip-10s-1920x1080.mp4", 10, "1920x1080")
    with bench_stack(KEY) as (stack, http, tmp):
        timelines(stack, http, clip, args.jobs)
        asyncio.run(visibility_count(stack.env["RECAST_TEMPORAL_ADDRESS"]))
        run_ffmpeg_vs_bare(clip, tmp)


if __name__ == "__main__":
    main()
