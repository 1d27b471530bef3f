"""Split-and-stitch against one whole encode, side by side in one run, through the real stack.

    .venv/bin/python bench/chunked.py [--duration 60] [--workers 1,2] [--chunk-duration 10]
                                      [--codec vp9] [--no-ssim] [--no-ladder] [--rounds 1]
                                      [--order concurrent|sequential] [--source-gop N]

A `--duration` s 1080p30 clip (testsrc2 with a tone, made once in bench/results/; a keyframe every 250
frames, x264's default, or every `--source-gop`) is encoded to 720p
(VP9 by default, `--codec av1` for SVT-AV1) by a Recast stack of its own (Temporal dev server, API,
workers), each worker pinned with `taskset` to one core of its own:

  whole-1      1 worker,  `"chunking": "off"`  (one encode)
  chunked-N    N workers, `"chunking": "on"`, for every N in --workers and every --chunk-duration

and prints, as it goes and then side by side: the encode time (the job's `encode_duration_ms`: chunks,
stitch, check and store), the wall time from submit to completed, the CPU seconds of the workers'
ffmpeg/ffprobe runs (what other load on the machine barely changes), the chunks and the stitch time,
the output's bytes and its SSIM against the source scaled to 720p. Then the ratios the issue sets targets
for (issue 14): chunked on 2 workers vs chunked on 1 worker (target ≥ 1.8×), chunked vs whole on 1
worker (target ≤ 1.05×), SSIM of chunked vs whole (within 0.003) and size (within 5 %).

Then the same for a 3-rung DASH ladder of the codec (720p, 480p, 360p; 2 s segments; h265 goes in
HLS, which is its only ladder), chunked with the first --chunk-duration rounded to whole segments:
whole-1 vs chunked on each worker count, with SSIM and size per rung (each rung's init + segments
against the source scaled to the rung's size). `--no-ladder` skips it.

With `--rounds N` every run is made N times and the ratios are the medians of each round's. This
VM's CPU speed drifts by up to 15 % within minutes (the same encode took 92 s in one run and 132 s in
another that night), more than the 5 % the cost target allows, so by default (`--order concurrent`)
the two 1-worker runs of a pair go at the same time, each in a stack of its own: whole on one core,
chunked on the other, their cores swapped every round; a drift then slows both alike. Chunked on 2
workers follows, on both cores, which were as busy during the pair. `--order sequential` runs the
pair back to back on one core instead (in alternating order), the other core idle.

Needs as many idle cores as the largest --workers (2 by default). One round of the default run (60 s,
workers 1 and 2, 10 s chunks) takes about 3 minutes on 2 idle cores, 7–8 with the ladder. Results:
bench/results/chunked.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.clips import RESULTS, chunked_source  # noqa: E402
from recast.devstack.stack import Stack, free_port  # noqa: E402

KEY = "bench-chunked"
CONTAINER = {"vp9": "webm", "av1": "webm", "h264": "mp4", "h265": "mp4"}
LADDER_TYPE = {"vp9": "dash", "av1": "dash", "h264": "dash", "h265": "hls"}
LADDER_HEIGHTS = (720, 480, 360)
TARGETS = {
    "speedup_2_workers": ">= 1.8 (chunked on 2 workers vs chunked on 1, one core each)",
    "cost_1_worker": "<= 1.05 (chunked vs whole, both on 1 worker)",
    "ssim_delta": "|chunked - whole| <= 0.003 (each against the source)",
    "size_ratio": "within 5 % (chunked / whole)",
    "speedup_same_speed": "no target: the speed-up with each run's time per ffmpeg CPU second held equal "
    "(encode/CPU of 1 worker over encode/CPU of 2): what it would be had the CPU not drifted between them",
    "cpu_cost": "no target: ffmpeg CPU seconds, chunked / whole (the cost of cutting, stitching and the "
    "full decode check, barely moved by other load)",
}


def ssim(out: Path, src: Path, width: int, height: int) -> float:
    """SSIM (all planes) of an output against the source scaled to the output's size."""
    run = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(out), "-i", str(src), "-lavfi",
         f"[1:v]scale={width}:{height}:flags=bicubic,format=yuv420p[ref];[0:v]format=yuv420p[dis];[dis][ref]ssim",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(re.findall(r"All:([0-9.]+)", run.stderr)[-1])


def ffmpeg_cpu_s(pid: int) -> float:
    """CPU seconds the finished children (ffmpeg, ffprobe) of process `pid` used, from /proc: the
    encoding work itself, which other load on the machine changes far less than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: cutime and cstime are fields 16 and 17 (proc(5)).
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, stack: Stack, http: httpx.Client, src: Path, codec: str, work: Path) -> None:
        self.stack, self.http, self.src, self.codec, self.work = stack, http, src, codec, work
        self.workers: list[str] = []
        self.cores: list[int] = []  # the core each of `workers` is pinned to

    def use_workers(self, count: int, cores: list[int] | None = None) -> None:
        """Exactly `count` workers, worker i pinned to the i-th of `cores` (default: the first `count`
        cores this process may use), one chunk slot each."""
        for name in self.workers:
            self.stack.kill(name, 15)
        self.workers, self.cores = [], []
        usable = sorted(os.sched_getaffinity(0))
        if count > len(usable):
            raise SystemExit(f"{count} workers need {count} cores; this machine lets us use {len(usable)}")
        for i, core in enumerate((cores or usable)[:count]):
            name = f"worker-{count}-{i}-{core}"
            self.stack.start_worker(name, cpus=str(core), RECAST_WORKER_METRICS_PORT="0")
            self.workers.append(name)
            self.cores.append(core)
        time.sleep(3)  # every worker polling before the job is planned

    def run(
        self,
        label: str,
        chunking: str,
        chunk_s: float | None,
        with_ssim: bool,
        ladder: bool = False,
        measure_now: bool = True,
    ) -> dict[str, Any]:
        output: dict[str, Any] = {
            "type": CONTAINER[self.codec],
            "video": {"codec": self.codec, "resolution": "720p"},
        }
        if ladder:
            rungs = [{"codec": self.codec, "height": h} for h in LADDER_HEIGHTS]
            output = {"type": LADDER_TYPE[self.codec], "video": rungs, "segments": {"duration": 2}}
        data = {"outputs": json.dumps([output]), "chunking": chunking}
        if chunk_s:
            data["chunk_duration"] = f"{chunk_s:g}"
        pids = [self.stack.procs[name].pid for name in self.workers]
        cpu_before = sum(ffmpeg_cpu_s(pid) for pid in pids)
        started = time.monotonic()
        with self.src.open("rb") as fh:
            resp = self.http.post("/v1/jobs", files={"media": (self.src.name, fh, "video/mp4")}, data=data)
        if resp.status_code != 202:
            raise SystemExit(f"{label}: submit answered {resp.status_code}: {resp.text}")
        job_id = resp.json()["id"]
        while (job := self.http.get(f"/v1/jobs/{job_id}").json())["status"] not in (
            "completed",
            "failed",
            "partial",
            "canceled",
        ):
            time.sleep(0.5)
        wall = time.monotonic() - started
        time.sleep(1)  # the last probes reaped
        cpu = sum(ffmpeg_cpu_s(pid) for pid in pids) - cpu_before
        if job["status"] != "completed":
            raise SystemExit(f"{label}: the job ended {job['status']}: {job.get('error_message')}")
        out = job["outputs"][0]
        result: dict[str, Any] = {
            "label": label,
            "chunking": chunking,
            "chunk_duration_s": chunk_s,
            "workers": len(self.workers),
            "encode_s": round(job["execution"]["encode_duration_ms"] / 1000, 2),
            "wall_s": round(wall, 2),
            "ffmpeg_cpu_s": round(cpu, 2),
            "chunks": out["chunks"],
            "stitch_s": round(out["stitch_duration_ms"] / 1000, 2) if out["stitch_duration_ms"] else None,
            "bytes": out["file_size_bytes"],
        }
        result["job"] = {"id": job_id, "output": out, "type": output["type"], "ladder": ladder}
        if len(self.cores) == 1:
            result["core"] = self.cores[0]
        if measure_now and (with_ssim or ladder):
            self.measure(result, with_ssim)
        self.show(result)
        return result

    def measure(self, result: dict[str, Any], with_ssim: bool) -> None:
        """The output's bytes per rung (ladders) and, with `with_ssim`, its SSIM against the source."""
        job, label = result["job"], result["label"]
        out = job["output"]
        if job["ladder"]:
            result.update(self.rungs(job["id"], out["id"], label, with_ssim))
        elif with_ssim:
            link = self.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download").json()["url"]
            dst = self.work / f"{label}.{job['type']}"
            dst.write_bytes(httpx.get(link, timeout=300).content)
            result["ssim"] = round(ssim(dst, self.src, out["width"], out["height"]), 5)

    @staticmethod
    def show(result: dict[str, Any]) -> None:
        print(
            f"  {result['label']:<24} encode {result['encode_s']:>7.1f} s   wall {result['wall_s']:>7.1f} s   "
            f"ffmpeg CPU {result['ffmpeg_cpu_s']:>7.1f} s   "
            f"chunks {result['chunks']:>3}   stitch {result['stitch_s'] or 0:>5.2f} s   "
            f"{result['bytes'] / 1e6:>6.2f} MB"
            + (f"   SSIM {result['ssim']:.5f}" if isinstance(result.get("ssim"), float) else "")
            + (f"   SSIM per rung {result['ssim']}" if isinstance(result.get("ssim"), list) else "")
            + (f"   core {result['core']}" if "core" in result else ""),
            flush=True,
        )

    def rungs(self, job_id: str, output_id: str, label: str, with_ssim: bool) -> dict[str, Any]:
        """A ladder's bytes per rung and, with `with_ssim`, each rung's SSIM (its init segment and every
        media segment joined, as a player plays it) against the source at the rung's size."""
        from recast.media import streaming

        folder = self.work / label
        link = self.http.get(f"/v1/jobs/{job_id}/outputs/{output_id}/download").json()
        for f in link["files"]:
            (folder / f["name"]).parent.mkdir(parents=True, exist_ok=True)
            (folder / f["name"]).write_bytes(httpx.get(f["url"], timeout=300).content)
        read = streaming.read_hls if (folder / streaming.HLS_ENTRY).exists() else streaming.read_dash
        variants, _ = read(folder)
        sizes, scores = [], []
        for i, v in enumerate(variants):
            names = ([v.init] if v.init else []) + [name for name, _ in v.segments]
            joined = folder / f"rung{i}.mp4"
            joined.write_bytes(b"".join((folder / name).read_bytes() for name in names))
            sizes.append(joined.stat().st_size)
            if with_ssim and v.width and v.height:
                scores.append(round(ssim(joined, self.src, v.width, v.height), 5))
        return {"rung_bytes": sizes, **({"ssim": scores} if scores else {})}


def speedups(one: dict[str, Any], two: dict[str, Any]) -> dict[str, float]:
    """2 workers against 1: as timed, and with the CPU's drift between the two runs taken out (the
    same frames took up to 14 % more or fewer CPU seconds from one run to the next on this VM)."""
    per_cpu_one = one["encode_s"] / one["ffmpeg_cpu_s"]
    per_cpu_two = two["encode_s"] / two["ffmpeg_cpu_s"]
    return {
        "speedup_2_workers": round(one["encode_s"] / two["encode_s"], 3),
        "speedup_same_speed": round(per_cpu_one / per_cpu_two, 3),
    }


def ratios(runs: dict[str, dict[str, Any]], chunk_s: float) -> dict[str, Any]:
    # Run side by side, each chunk length has a whole encode of its own.
    whole = runs.get(f"whole-1@{chunk_s:g}s") or runs["whole-1"]
    one = runs.get(f"chunked-1-{chunk_s:g}s")
    two = runs.get(f"chunked-2-{chunk_s:g}s")
    found: dict[str, Any] = {}
    if one and two:
        found.update(speedups(one, two))
    if one:
        found["cost_1_worker"] = round(one["encode_s"] / whole["encode_s"], 3)
        found["cpu_cost"] = round(one["ffmpeg_cpu_s"] / whole["ffmpeg_cpu_s"], 3)
        found["size_ratio"] = round(one["bytes"] / whole["bytes"], 4)
        if "ssim" in one and "ssim" in whole:
            found["ssim_delta"] = round(one["ssim"] - whole["ssim"], 5)
    return found


def ladder_ratios(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ladder's ratios: speed-up on 2 workers, cost on 1, and per rung the SSIM delta and size ratio."""
    whole, one, two = runs.get("ladder-whole-1"), runs.get("ladder-chunked-1"), runs.get("ladder-chunked-2")
    found: dict[str, Any] = {}
    if one and two:
        found.update(speedups(one, two))
    if whole and one:
        found["cost_1_worker"] = round(one["encode_s"] / whole["encode_s"], 3)
        found["cpu_cost"] = round(one["ffmpeg_cpu_s"] / whole["ffmpeg_cpu_s"], 3)
        found["size_ratio"] = [
            round(a / b, 4) for a, b in zip(one["rung_bytes"], whole["rung_bytes"], strict=True)
        ]
        if "ssim" in one and "ssim" in whole:
            found["ssim_delta"] = [round(a - b, 5) for a, b in zip(one["ssim"], whole["ssim"], strict=True)]
    return found


def one_round(
    bench: Bench, r: int, counts: list[int], chunk_lengths: list[float], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Every run once. The whole and chunked runs on 1 worker go back to back, in alternating order from
    round to round (so a drift of the machine's speed does not favour one side); SSIM in round 0 only
    (the outputs do not change between rounds)."""
    runs: dict[str, dict[str, Any]] = {}
    ssim = not args.no_ssim and r == 0
    cases: list[tuple[bool, list[tuple[str, str, float | None]]]] = [
        (False, [("whole-1", "off", None)] + [(f"chunked-1-{c:g}s", "on", c) for c in chunk_lengths])
    ]
    if not args.no_ladder:
        cases.append((True, [("ladder-whole-1", "off", None), ("ladder-chunked-1", "on", chunk_lengths[0])]))
    for ladder, pair in cases:
        bench.use_workers(1)
        for label, chunking, chunk_s in pair if r % 2 == 0 else reversed(pair):
            if chunking == "off" or 1 in counts:
                # SSIM once per chunk length: the output does not depend on the worker count.
                runs[label] = bench.run(label, chunking, chunk_s, ssim and counts[0] == 1, ladder)
        for count in (c for c in counts if c != 1):
            bench.use_workers(count)
            lengths = chunk_lengths[:1] if ladder else chunk_lengths
            for chunk_s in lengths:
                label = f"ladder-chunked-{count}" if ladder else f"chunked-{count}-{chunk_s:g}s"
                runs[label] = bench.run(label, "on", chunk_s, ssim and count == counts[0], ladder)
    return runs


def paired_round(
    whole: Bench,
    chunked: Bench,
    r: int,
    counts: list[int],
    chunk_lengths: list[float],
    args: argparse.Namespace,
) -> dict[str, dict[str, Any]]:
    """Every run once, the two 1-worker runs of a pair at the same time: whole on one core, chunked on
    the other (their cores swapped every round), so a drift of the machine's speed — minutes long,
    up to 15 % on this VM — meets both alike; then chunked on 2 workers, the two cores as busy as they
    were for the pair. SSIM and rung sizes are measured after the pair, never during an encode."""
    runs: dict[str, dict[str, Any]] = {}
    ssim = not args.no_ssim and r == 0
    cores = sorted(os.sched_getaffinity(0))[:2]
    if len(cores) < 2:
        raise SystemExit("--order concurrent needs 2 cores")
    mine, other = (cores[0], cores[1]) if r % 2 == 0 else (cores[1], cores[0])
    pairs: list[tuple[bool, str, str, float]] = [
        (False, "whole-1" if i == 0 else f"whole-1@{c:g}s", f"chunked-1-{c:g}s", c)
        for i, c in enumerate(chunk_lengths)
    ]
    if not args.no_ladder:
        pairs.append((True, "ladder-whole-1", "ladder-chunked-1", chunk_lengths[0]))
    for ladder, whole_label, chunked_label, chunk_s in pairs:
        whole.use_workers(1, [mine])
        chunked.use_workers(1, [other])
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(whole.run, whole_label, "off", None, False, ladder, False)
            b = pool.submit(chunked.run, chunked_label, "on", chunk_s, False, ladder, False)
            runs[whole_label], runs[chunked_label] = a.result(), b.result()
        if ssim or ladder:
            whole.measure(runs[whole_label], ssim)
            chunked.measure(runs[chunked_label], ssim)
            if ssim:
                print(f"    SSIM whole {runs[whole_label]['ssim']}   chunked {runs[chunked_label]['ssim']}")
        whole.use_workers(0)
        for count in (n for n in counts if n != 1):
            chunked.use_workers(count)
            label = f"ladder-chunked-{count}" if ladder else f"chunked-{count}-{chunk_s:g}s"
            runs[label] = chunked.run(label, "on", chunk_s, False, ladder)
    return runs


def median_of(found: list[dict[str, Any]]) -> dict[str, Any]:
    """Each ratio's median over the rounds (SSIM and sizes: round 0's), with every round's value."""
    merged: dict[str, Any] = {}
    for name in found[0]:
        values = [f[name] for f in found if name in f]
        if isinstance(values[0], float) and name in (
            "speedup_2_workers",
            "speedup_same_speed",
            "cost_1_worker",
            "cpu_cost",
        ):
            merged[name] = round(statistics.median(values), 3)
            if len(values) > 1:
                merged[f"{name}_rounds"] = values
        else:
            merged[name] = values[0]
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=60, help="seconds of 1080p30 input (default 60)")
    parser.add_argument("--workers", default="1,2", help="worker counts to run chunked (default 1,2)")
    parser.add_argument(
        "--chunk-duration", default="10", help="seconds per chunk, comma-separated (default 10)"
    )
    parser.add_argument("--codec", default="vp9", choices=sorted(CONTAINER), help="default vp9")
    parser.add_argument(
        "--source-gop",
        type=int,
        default=None,
        help="frames between the source's keyframes (default: x264's, 250; 60 = 2 s, as phones and "
        "streaming ingest make, puts every 10 s chunk boundary on a keyframe)",
    )
    parser.add_argument("--no-ssim", action="store_true", help="skip the SSIM measurements")
    parser.add_argument("--no-ladder", action="store_true", help="skip the 3-rung ladder case")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every run; ratios are medians")
    parser.add_argument(
        "--order",
        choices=("concurrent", "sequential"),
        default="concurrent",
        help="the whole and chunked 1-worker runs side by side on a core each (default), or one after "
        "the other on the same core",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    chunk_lengths = [float(s) for s in args.chunk_duration.split(",")]
    src = chunked_source(args.duration, args.source_gop)
    print(
        f"input: {src.name} ({src.stat().st_size / 1e6:.1f} MB), → 720p {args.codec}; cores {os.cpu_count()}"
    )
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            "RECAST_API_KEYS": f"{KEY}=bench",
            "RECAST_MAX_UPLOAD_BYTES": str(4 << 30),
            "RECAST_WORKER_METRICS_PORT": "0",
            "RECAST_TASK_QUEUE": "bench-chunked",
        }
        with contextlib.ExitStack() as stacks:

            def bench_on(name: str) -> Bench:
                """A Recast stack of its own (Temporal dev server, API; workers come per run)."""
                stack = stacks.enter_context(Stack(work / name, env, quiet=True))
                stack.start_temporal(free_port(), None, work / f"{name}-temporal.db")
                port = free_port()
                stack.start_api("127.0.0.1", port)
                headers = {"Authorization": f"Bearer {KEY}"}
                url = f"http://127.0.0.1:{port}"
                http = stacks.enter_context(httpx.Client(base_url=url, headers=headers, timeout=600))
                return Bench(stack, http, src, args.codec, work)

            if args.order == "concurrent":
                whole, chunked = bench_on("stack-whole"), bench_on("stack-chunked")
            else:
                bench = bench_on("stack")
            for r in range(args.rounds):
                print(f"round {r + 1} of {args.rounds}", flush=True)
                if args.order == "concurrent":
                    runs = paired_round(whole, chunked, r, counts, chunk_lengths, args)
                else:
                    runs = one_round(bench, r, counts, chunk_lengths, args)
                for run in runs.values():
                    run.pop("job", None)
                rounds.append(runs)
    print(f"\nratios (median of {args.rounds} round(s); the issue's targets in brackets):")
    summary = {}
    for chunk_s in chunk_lengths:
        found = median_of([ratios(runs, chunk_s) for runs in rounds])
        summary[f"{chunk_s:g}s"] = found
        for name, value in found.items():
            if not name.endswith("_rounds"):
                print(
                    f"  {chunk_s:g} s chunks  {name:<18} {value:<9} [{TARGETS[name]}]  {found.get(name + '_rounds', '')}"
                )
    for count in counts:
        for chunk_s in chunk_lengths:
            label, base_label = f"chunked-{count}-{chunk_s:g}s", f"chunked-1-{chunk_s:g}s"
            speedups = [
                runs[base_label]["encode_s"] / runs[label]["encode_s"]
                for runs in rounds
                if base_label in runs
            ]
            if speedups:
                print(
                    f"  speed-up with {count} worker(s), {chunk_s:g} s chunks: {statistics.median(speedups):.2f}×"
                )
    ladder: dict[str, Any] = {} if args.no_ladder else median_of([ladder_ratios(runs) for runs in rounds])
    for name, value in ladder.items():
        if not name.endswith("_rounds"):
            print(
                f"  3-rung ladder     {name:<18} {value!s:<9} [{TARGETS[name]}]  {ladder.get(name + '_rounds', '')}"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "input_s": args.duration,
        "order": args.order,
        "source_gop": args.source_gop or 250,
        "codec": args.codec,
        "cores": os.cpu_count(),
        "rounds": rounds,
        "ratios": summary,
        "targets": TARGETS,
        "ladder": ladder,
    }
    (RESULTS / "chunked.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'chunked.json'}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # the SDK's threads can crash interpreter finalization (sdk-python #300)
