"""Poll latency under load: 32 concurrent pollers over 200 running jobs, with reads shared and not; and
while a burst of 200 jobs is submitted and starts, against bare Temporal describes in the same run.

    .venv/bin/python bench/poll_load.py [--case parked|burst|both] [--jobs 200] [--pollers 32]
                                        [--seconds 20] [--rounds 1] [--client raw|httpx] [--interval 0]
                                        [--burst-interval 0.25] [--describers 8] [--settle 10]

`burst` (bench/poll_burst.py): a fresh stack; `--jobs` jobs (one small H.264 encode each) are submitted
8 at a time from a separate process, and run, while `--pollers` httpx pollers (one connection each, so
none waits for a connection; each request timed from when its headers are sent) poll random jobs of
those submitted so far every `--burst-interval` s, and `--describers` tasks in the same process
`describe` random ones straight from Temporal at the same pace: poll p99 against describe p99, under
the same load, from the first submit until `--settle` s after the last (the jobs still encoding). Targets: poll p99 < 100 ms and within
1.5x of describe p99.

`parked`:

Starts a Temporal dev server (on a SQLite file, as `make run` does), a worker and two APIs on the same
jobs: one as configured by default (a running job's read is shared by concurrent callers and reused
for RECAST_READ_CACHE_MS = 250 ms), one with RECAST_READ_CACHE_MS=0 (every poll is its own describe).
Submits the jobs with `delayed_start`, so after probing they wait in `awaiting_confirmation`: running
workflows that use no CPU, which every poll must read from Temporal (finished jobs are cached for good
by both APIs, which would make the comparison void).

Then `--pollers` asyncio tasks, each on its own keep-alive connection, GET jobs back to back (or every
`--interval` s) for `--seconds`, against one API and then the other (which goes first alternates per
round), in two scenarios: `spread` (each poll a random one of the jobs) and `hot` (every poller on the
same job: many watchers of one job). Prints latency percentiles, throughput and each process's CPU,
and the ratios shared/unshared. Issue target: p99 < 100 ms for `spread` with sharing on.

The default client (both cases) is a minimal HTTP/1.1 client on asyncio streams (bench/rawhttp.py):
on a 2-core machine httpx costs ~3.5 ms of client CPU per request, so with it the client, not the API,
is what gets measured (`--client httpx` shows that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import poll_burst  # noqa: E402
from bench.rawhttp import RawConnection  # noqa: E402
from recast.devstack.stack import Stack, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KEY = "bench-key"
OUTPUT = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
MODES = ("shared", "unshared")
SCENARIOS = ("spread", "hot")

Get = Callable[[str], Awaitable[int]]  # GET a path → HTTP status


def make_clip(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
    return path


async def submit_all(http: httpx.AsyncClient, clip: Path, data: bytes, n: int) -> list[str]:
    sem = asyncio.Semaphore(8)

    async def one() -> str:
        async with sem:
            resp = await http.post(
                "/v1/jobs",
                files={"media": (clip.name, data, "video/mp4")},
                data={"outputs": json.dumps([OUTPUT]), "delayed_start": "true"},
            )
            resp.raise_for_status()
            return str(resp.json()["id"])

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def wait_parked(http: httpx.AsyncClient, job_ids: list[str], limit_s: float = 600) -> None:
    """Every job probed and waiting for confirmation (not finished: then the bench would be void)."""
    deadline = time.monotonic() + limit_s
    pending = set(job_ids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} jobs never reached awaiting_confirmation")
        for job_id in list(pending):
            status = (await http.get(f"/v1/jobs/{job_id}")).json()["status"]
            if status == "awaiting_confirmation":
                pending.discard(job_id)
            elif status not in ("pending", "probing"):
                raise SystemExit(f"job {job_id} is {status}: does the workflow support delayed_start?")
        await asyncio.sleep(0.5)


async def load(
    base_url: str, targets: list[str], pollers: int, seconds: float, interval: float, client: str
) -> dict[str, Any]:
    """`pollers` tasks GET random jobs of `targets` for `seconds`; latency of every request."""
    latencies: list[float] = []
    errors = 0
    http = httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
        limits=httpx.Limits(max_connections=pollers, max_keepalive_connections=pollers),
    )
    raw = [RawConnection(base_url, KEY) for _ in range(pollers)]

    async def poller(i: int) -> None:
        nonlocal errors
        get: Get = raw[i].get if client == "raw" else (lambda path: _status(http.get(path)))
        rng = random.Random(i)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            status = await get(f"/v1/jobs/{rng.choice(targets)}")
            latencies.append(time.perf_counter() - start)
            errors += status != 200
            if interval:
                await asyncio.sleep(interval)

    started = time.monotonic()
    try:
        await asyncio.gather(*(poller(i) for i in range(pollers)))
    finally:
        elapsed = time.monotonic() - started
        await http.aclose()
        for conn in raw:
            conn.close()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": max(latencies) * 1000,
    }


async def _status(request: Awaitable[httpx.Response]) -> int:
    return (await request).status_code


def line(scenario: str, mode: str, r: dict[str, Any]) -> str:
    return (f"{scenario:<7} {mode:<9} {r['requests']:>8.0f} {r['throughput_rps']:>7.0f} {r['p50_ms']:>7.1f} "
            f"{r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['errors']:>6.0f}")  # fmt: skip


async def bench(
    args: argparse.Namespace, urls: dict[str, str], job_ids: list[str], pids: dict[str, int]
) -> dict[str, Any]:
    targets = {"spread": job_ids, "hot": job_ids[:1]}
    for url in urls.values():  # warm-up: connections, first requests
        await load(url, job_ids, args.pollers, 2, args.interval, args.client)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {s: {m: [] for m in MODES} for s in SCENARIOS}
    print(f"{'load':<7} {'reads':<9} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'errors':>6}   CPU of each process (100% = one core)")  # fmt: skip
    for i in range(args.rounds):
        for scenario in SCENARIOS:
            for mode in MODES if i % 2 == 0 else tuple(reversed(MODES)):
                before = poll_burst.cpu_seconds(pids)
                result = await load(
                    urls[mode], targets[scenario], args.pollers, args.seconds, args.interval, args.client
                )
                after = poll_burst.cpu_seconds(pids)
                cpu = {name: (after[name] - before[name]) / args.seconds for name in after if name in before}
                result["cpu"] = cpu
                runs[scenario][mode].append(result)
                busy = ", ".join(f"{name} {share:.0%}" for name, share in cpu.items() if share >= 0.005)
                print(line(scenario, mode, result), f"  {busy}")
    summary: dict[str, Any] = {}
    for scenario in SCENARIOS:
        med = {
            mode: {
                k: statistics.median(r[k] for r in runs[scenario][mode])
                for k in runs[scenario][mode][0]
                if k != "cpu"
            }
            for mode in MODES
        }
        shared, unshared = med["shared"], med["unshared"]
        summary[scenario] = {
            **med,
            "p99_unshared_over_shared": unshared["p99_ms"] / shared["p99_ms"],
            "throughput_shared_over_unshared": shared["throughput_rps"] / unshared["throughput_rps"],
            "rounds": runs[scenario],
        }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--pollers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="parked: rounds per API; burst: bursts")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between one poller's requests")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--case", choices=("parked", "burst", "both"), default="both")
    parser.add_argument("--burst-interval", type=float, default=0.25, help="burst: pause between polls")
    parser.add_argument("--describers", type=int, default=8, help="burst: tasks describing from Temporal")
    parser.add_argument(
        "--settle", type=float, default=10, help="burst: reading goes on after the last submit"
    )
    args = parser.parse_args()
    clip = make_clip(RESULTS / "clip-1s-320x240.mp4")
    if args.case in ("burst", "both"):
        poll_burst.main(args, clip, KEY, OUTPUT)
    if args.case == "burst":
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "RECAST_API_KEYS": f"{KEY}=bench",
            "RECAST_SIGNING_SECRET": "bench-secret",
            # 200 jobs parked at once, submitted in seconds: far above the per-organization defaults.
            "RECAST_MAX_CONCURRENT_JOBS": "0",
            "RECAST_MAX_SUBMISSIONS_PER_MINUTE": "0",
            "RECAST_WORKER_METRICS_PORT": str(free_port()),  # not 9464, `make run`'s
        }
        with Stack(Path(tmp) / "stack", env, quiet=True) as stack:
            stack.start_temporal(free_port(), None, Path(tmp) / "temporal.db")
            stack.start_worker()
            urls = {mode: f"http://127.0.0.1:{free_port()}" for mode in MODES}
            stack.start_api("127.0.0.1", int(urls["shared"].rsplit(":", 1)[1]), name="api-shared")
            stack.env["RECAST_READ_CACHE_MS"] = "0"
            stack.start_api("127.0.0.1", int(urls["unshared"].rsplit(":", 1)[1]), name="api-unshared")

            async def run() -> dict[str, Any]:
                async with httpx.AsyncClient(
                    base_url=urls["shared"], headers={"Authorization": f"Bearer {KEY}"}, timeout=60
                ) as http:
                    started = time.monotonic()
                    job_ids = await submit_all(http, clip, clip.read_bytes(), args.jobs)
                    await wait_parked(http, job_ids)
                    print(f"{len(job_ids)} jobs awaiting confirmation after {time.monotonic() - started:.0f} s; "
                          f"{args.pollers} pollers, {args.seconds:g} s per run, {args.client} client")  # fmt: skip
                pids = {name: proc.pid for name, proc in stack.procs.items()} | {"bench": os.getpid()}
                return await bench(args, urls, job_ids, pids)

            result = asyncio.run(run())

    for scenario in SCENARIOS:
        r = result[scenario]
        shared, unshared = r["shared"], r["unshared"]
        print(f"{scenario}: shared reads p99 {shared['p99_ms']:.1f} ms at {shared['throughput_rps']:.0f} req/s, "
              f"every read a describe p99 {unshared['p99_ms']:.1f} ms at {unshared['throughput_rps']:.0f} req/s: "
              f"p99 {r['p99_unshared_over_shared']:.1f}x lower, throughput {r['throughput_shared_over_unshared']:.1f}x")  # fmt: skip
    met = result["spread"]["shared"]["p99_ms"] < 100
    print(
        f"target: poll p99 < 100 ms with {args.pollers} pollers over {args.jobs} jobs: {'met' if met else 'NOT met'}"
    )
    summary = {
        "jobs": args.jobs,
        "pollers": args.pollers,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "client": args.client,
        "read_cache_ms": {"shared": 250, "unshared": 0},
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "poll_load.json" if args.client == "raw" else f"poll_load-{args.client}.json"
    (RESULTS / name).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
