"""The `burst` case of bench/poll_load.py: polls while a burst of jobs is submitted and starts, against
bare Temporal describes of the same jobs in the same run, under the same load.

A fresh stack (dev server on SQLite as `make run`, one worker, one API with default settings). A
separate process submits `--jobs` jobs 8 at a time (so its multipart uploads cost this process no CPU)
and reports each job ID as it gets it. Meanwhile, in this process:
- `--pollers` pollers, each on an httpx client of its own with one keep-alive connection (no request
  ever waits for a connection), GET a random job of those submitted so far every `--burst-interval` s;
  each request is timed from the moment its headers are sent (httpcore's trace events) to the end of
  its body;
- `--describers` tasks `describe` a random submitted job straight from Temporal at the same pace, on a
  client with the pydantic converter (as the API's): what a read costs without Recast in between.
Both run from the first submit until `--settle` s after the last one (the jobs still encoding), and their
p99s are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import queue
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from recast.devstack.stack import Stack, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TERMINAL = {"completed", "failed", "partial", "canceled"}


def submitter(base_url: str, key: str, clip: str, outputs: list[dict[str, Any]], n: int, ids: Any) -> None:
    """In its own process: submit `n` jobs, 8 at a time; put each job ID on `ids`, then None."""

    data = Path(clip).read_bytes()

    async def run() -> None:
        sem = asyncio.Semaphore(8)
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as http:

            async def one() -> None:
                async with sem:
                    resp = await http.post(
                        "/v1/jobs",
                        files={"media": ("clip.mp4", data, "video/mp4")},
                        data={"outputs": json.dumps(outputs)},
                    )
                    resp.raise_for_status()
                    ids.put(resp.json()["id"])

            await asyncio.gather(*(one() for _ in range(n)))
        ids.put(None)

    asyncio.run(run())


def percentiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "count": len(samples),
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": max(samples) * 1000,
    }


async def measure(
    base_url: str, temporal: str, key: str, args: argparse.Namespace, ids: Any, jobs: int
) -> dict[str, Any]:
    submitted: list[str] = []
    finished: set[str] = set()
    polls: list[float] = []
    stale: list[float] = []  # the polls answered with the job's last read (an `Age` header)
    describes: list[float] = []
    errors = {"poll": 0, "describe": 0}
    done = asyncio.Event()
    client = await Client.connect(temporal, data_converter=pydantic_data_converter)
    started = time.monotonic()
    submit_s = 0.0

    async def collect() -> None:
        nonlocal submit_s
        while True:
            try:
                job_id = ids.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
                continue
            if job_id is None:
                submit_s = time.monotonic() - started
                return
            submitted.append(job_id)

    async def poller(i: int) -> None:
        rng = random.Random(i)
        sent = 0.0

        async def trace(name: str, _info: dict[str, Any]) -> None:
            nonlocal sent
            if name == "http11.send_request_headers.started":
                sent = time.perf_counter()

        async with httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ) as http:
            while not done.is_set():
                if not submitted:
                    await asyncio.sleep(0.01)
                    continue
                job_id = rng.choice(submitted)
                resp = await http.get(f"/v1/jobs/{job_id}", extensions={"trace": trace})
                polls.append(time.perf_counter() - sent)
                if "age" in resp.headers:
                    stale.append(polls[-1])
                if resp.status_code != 200:
                    errors["poll"] += 1
                elif resp.json()["status"] in TERMINAL:
                    finished.add(job_id)
                await asyncio.sleep(args.burst_interval)

    async def describer(i: int) -> None:
        rng = random.Random(1000 + i)
        while not done.is_set():
            if not submitted:
                await asyncio.sleep(0.01)
                continue
            start = time.perf_counter()
            try:
                await client.get_workflow_handle(rng.choice(submitted)).describe()
            except Exception:
                errors["describe"] += 1
            describes.append(time.perf_counter() - start)
            await asyncio.sleep(args.burst_interval)

    async def settle() -> None:
        # The jobs go on encoding after the last submit: keep reading through `--settle` s of that.
        await asyncio.sleep(args.settle)
        done.set()

    tasks = [asyncio.create_task(poller(i)) for i in range(args.pollers)]
    tasks += [asyncio.create_task(describer(i)) for i in range(args.describers)]
    await collect()
    await settle()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    return {
        "submit_s": submit_s,
        "measured_s": elapsed,
        "seen_finished": len(finished),
        "poll": percentiles(polls)
        | {"errors": errors["poll"], "rps": len(polls) / elapsed, "last_read_share": len(stale) / len(polls)},
        "describe": percentiles(describes) | {"errors": errors["describe"], "rps": len(describes) / elapsed},
    }


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) each process has used so far, from /proc (Linux)."""
    used = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def main(args: argparse.Namespace, clip: Path, key: str, output: dict[str, Any]) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "RECAST_API_KEYS": f"{key}=bench",
            "RECAST_SIGNING_SECRET": "bench-secret",
            "RECAST_MAX_CONCURRENT_JOBS": "0",
            "RECAST_MAX_SUBMISSIONS_PER_MINUTE": "0",
        }
        with Stack(Path(tmp) / "stack", env, quiet=True) as stack:
            temporal = stack.start_temporal(free_port(), None, Path(tmp) / "temporal.db")
            stack.start_worker()
            port = free_port()
            stack.start_api("127.0.0.1", port)
            base_url = f"http://127.0.0.1:{port}"
            pids = {name: proc.pid for name, proc in stack.procs.items()} | {"bench": os.getpid()}
            ctx = multiprocessing.get_context("spawn")
            ids = ctx.Queue()
            proc = ctx.Process(
                target=submitter, args=(base_url, key, str(clip), [output], args.jobs, ids), daemon=True
            )
            before = cpu_seconds(pids)
            proc.start()
            result = asyncio.run(measure(base_url, temporal, key, args, ids, args.jobs))
            proc.join(60)
            ids.close()
            after = cpu_seconds(pids)
    result["cpu"] = {n: (after[n] - before[n]) / result["measured_s"] for n in after if n in before}
    poll, describe = result["poll"], result["describe"]
    ratio = poll["p99_ms"] / describe["p99_ms"]
    busy = ", ".join(f"{name} {share:.0%}" for name, share in result["cpu"].items())
    print(
        f"burst: {args.jobs} jobs submitted in {result['submit_s']:.1f} s, measured for "
        f"{result['measured_s']:.1f} s ({result['seen_finished']} seen finished); load average before "
        f"{load_before[0]:.1f}; {args.pollers} pollers and {args.describers} describers every "
        f"{args.burst_interval:g} s; CPU: {busy}"
    )
    for name, r in (("poll (API)", poll), ("describe", describe)):
        print(
            f"  {name:<11} {r['count']:>6} requests {r['rps']:>6.0f}/s  p50 {r['p50_ms']:6.1f}  "
            f"p95 {r['p95_ms']:6.1f}  p99 {r['p99_ms']:6.1f}  max {r['max_ms']:6.1f} ms  errors {r['errors']}"
        )
    print(
        f"  polls answered with the job's last read (Temporal slower than RECAST_READ_WAIT_MS): {poll['last_read_share']:.0%}"
    )
    met = poll["p99_ms"] < 100 and ratio <= 1.5
    print(
        f"  target: poll p99 < 100 ms and <= 1.5x describe p99: {poll['p99_ms']:.1f} ms, "
        f"{ratio:.2f}x: {'met' if met else 'NOT met'}"
    )
    summary = {
        "jobs": args.jobs,
        "pollers": args.pollers,
        "describers": args.describers,
        "interval_s": args.burst_interval,
        "poll_p99_over_describe_p99": ratio,
        "loadavg_before": load_before,
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "poll_burst.json").write_text(json.dumps(summary, indent=2))
    return summary
