"""The `burst` case of bench/poll_load.py: polls while a burst of jobs is submitted and starts, against
bare Temporal describes of the same jobs in the same run, under the same load.

A fresh stack (dev server on SQLite as `make run`, one worker, one API with default settings). A
separate process submits `--jobs` jobs 8 at a time (so its multipart uploads cost this process no CPU)
and reports each job ID as it gets it. Meanwhile, in this process:
- `--pollers` pollers, each on a keep-alive connection of its own opened before timing starts (no
  request ever waits for a connection), GET a random job of those submitted so far every
  `--burst-interval` s; each request is timed from the moment it is sent to the end of its body.
  The client is bench/rawhttp.py's (`--client raw`, default) or httpx (`--client httpx`, timed from
  httpcore's "headers sent" trace event; its ~3.5 ms of CPU a request makes this process lag);
- `--describers` tasks `describe` a random submitted job straight from Temporal at the same pace, on a
  client with the pydantic converter (as the API's): what a read costs without Recast in between.
Both run from the first submit until `--settle` s after the last one (the jobs still encoding), and their
p99s are compared. The API's request histogram then says how many polls were slow inside the API. With
`--rounds N`, N bursts on fresh stacks, and the medians of their p99s against the targets (one round's
p99 is its ~20 slowest polls of ~1,800: one stall of the machine moves it).
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

from bench.rawhttp import RawConnection
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
    ages: list[int] = []  # those answers' `Age` (whole seconds; raw client only)
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
        if args.client == "raw":
            conn = RawConnection(base_url, key)
            await conn.connect()  # before timing: no request waits for a connection
            try:
                while not done.is_set():
                    if not submitted:
                        await asyncio.sleep(0.01)
                        continue
                    start = time.perf_counter()
                    status, headers, body = await conn.request(f"/v1/jobs/{rng.choice(submitted)}")
                    record(time.perf_counter() - start, status, "age" in headers, body)
                    if "age" in headers:
                        ages.append(int(headers["age"]))
                    await asyncio.sleep(args.burst_interval)
            finally:
                conn.close()
            return
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
                resp = await http.get(f"/v1/jobs/{rng.choice(submitted)}", extensions={"trace": trace})
                record(time.perf_counter() - sent, resp.status_code, "age" in resp.headers, resp.content)
                await asyncio.sleep(args.burst_interval)

    def record(seconds: float, status: int, aged: bool, body: bytes) -> None:
        polls.append(seconds)
        if aged:
            stale.append(seconds)
        if status != 200:
            errors["poll"] += 1
            return
        job = json.loads(body)
        if job["status"] in TERMINAL:
            finished.add(job["id"])

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
        | {
            "errors": errors["poll"],
            "rps": len(polls) / elapsed,
            "last_read_share": len(stale) / len(polls),
            "last_read_age_s": {"median": statistics.median(ages), "max": max(ages)} if ages else None,
        },
        "describe": percentiles(describes) | {"errors": errors["describe"], "rps": len(describes) / elapsed},
    }


def api_view(base_url: str) -> dict[str, float]:
    """The API's own count of polls by time spent inside it (its request histogram): how many of the
    slow polls were slow in the app (waiting on Temporal), not in reaching it (scheduling, sockets)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    buckets: dict[str, float] = {}
    for line in text.splitlines():
        if (
            line.startswith("recast_api_request_duration_seconds_bucket")
            and 'route="/v1/jobs/{job_id}"' in line
            and 'method="GET"' in line
        ):
            le = line.split('le="')[1].split('"')[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
    total = buckets.get("+Inf", 0.0) or 1.0
    return {f"le_{le}": n / total for le, n in buckets.items() if le in ("0.025", "0.05", "0.1", "0.25")}


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
    """`--rounds` bursts, each on a fresh stack; the medians of their p99s against the targets."""
    rounds = [one_round(args, clip, key, output) for _ in range(args.rounds)]
    p99s = sorted(r["poll"]["p99_ms"] for r in rounds)
    ratios = sorted(r["poll_p99_over_describe_p99"] for r in rounds)
    p99, ratio = statistics.median(p99s), statistics.median(ratios)
    met = p99 < 100 and ratio <= 1.5
    print(
        f"burst, {len(rounds)} round(s): poll p99 median {p99:.1f} ms (rounds {', '.join(f'{v:.0f}' for v in p99s)}), "
        f"poll p99 / describe p99 median {ratio:.2f}x; target p99 < 100 ms and <= 1.5x: {'met' if met else 'NOT met'}"
    )
    summary = {
        "jobs": args.jobs,
        "pollers": args.pollers,
        "describers": args.describers,
        "interval_s": args.burst_interval,
        "poll_p99_ms_median": p99,
        "poll_p99_over_describe_p99_median": ratio,
        "rounds": rounds,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "poll_burst.json").write_text(json.dumps(summary, indent=2))
    return summary


def one_round(args: argparse.Namespace, clip: Path, key: str, output: dict[str, Any]) -> dict[str, Any]:
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
            result["api_view"] = api_view(base_url)
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
    inside = result["api_view"]
    print(
        f"  time inside the API (its request histogram): over 50 ms {1 - inside.get('le_0.05', 1):.1%} "
        f"of polls, over 100 ms {1 - inside.get('le_0.1', 1):.1%}"
    )
    print(
        f"  polls answered with the job's last read (Temporal slower than RECAST_READ_WAIT_MS): {poll['last_read_share']:.0%}"
        + (
            f", Age median {poll['last_read_age_s']['median']:g} s, max {poll['last_read_age_s']['max']} s"
            if poll["last_read_age_s"]
            else ""
        )
    )
    print(f"  this round: poll p99 {poll['p99_ms']:.1f} ms, {ratio:.2f}x describe p99")
    return {"poll_p99_over_describe_p99": ratio, "loadavg_before": load_before, **result}
