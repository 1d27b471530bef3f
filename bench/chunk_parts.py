"""Where split-and-stitch's cost on one worker goes, without the stack: the figures behind
docs/benchmarks.md's "Where the cost goes".

    .venv/bin/python bench/chunk_parts.py [--duration 60] [--chunk-duration 10] [--source-gop N]
                                          [--rounds 2] [--core 1]

Builds, with Recast's own functions, the whole encode's ffmpeg command (recast/media/renditions.py)
and the chunk encodes' (recast/media/chunks.py) for bench/chunked.py's source and output (720p VP9),
then runs them on one pinned core — the whole command, then all chunk commands back to back, in
alternating order each round — and prints the CPU seconds of each side. Then: how many frames the
chunks' seeks decode and throw away (from the keyframe before each chunk's first frame), and how
many keyframes the whole output and the chunks carry. The whole command includes the audio encode,
which a chunked output does in its stitch instead.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.clips import chunked_source  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.media import chunks, probe, renditions  # noqa: E402

SPEC = {"type": "webm", "video": {"codec": "vp9", "resolution": "720p"}}


def cpu_seconds(commands: list[list[str]], core: int) -> float:
    """CPU seconds (user + system) the commands took, run one after another pinned to `core`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for args in commands:
        subprocess.run(["taskset", "-c", str(core), *args], check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def keyframes(path: Path) -> int:
    run = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sum("K" in line for line in run.stdout.splitlines())


async def commands(
    src: Path, size: int, work: Path, chunk_s: float
) -> tuple[list[str], list[list[str]], int, list[Path]]:
    """The whole command, the chunk commands, the frames the chunks' seeks throw away, the chunk files."""
    meta = probe.input_metadata(await probe.probe_raw(src), size)
    spec = OutputSpec.model_validate(SPEC)
    whole = renditions.encode_plan(spec, meta, src, work / "whole.webm").args
    layout = await chunks.frame_layout(src, meta)
    cut = chunks.ranges(layout.frames, layout.rate, chunk_s, 0, layout.keyframes)
    files = [work / chunks.chunk_name(i, spec) for i in range(len(cut))]
    parts = [
        chunks.chunk_command(spec, meta, src, dst, start, frames, layout.rate)
        for dst, (start, frames) in zip(files, cut, strict=True)
    ]
    thrown = sum(start - max(k for k in layout.keyframes if k <= start) for start, _ in cut)
    return whole, parts, thrown, files


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--chunk-duration", type=float, default=10.0)
    parser.add_argument("--source-gop", type=int, default=None, help="as bench/chunked.py's")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--core", type=int, default=1, help="the core to pin to (default 1)")
    args = parser.parse_args()
    src = chunked_source(args.duration, args.source_gop)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        whole, parts, thrown, files = asyncio.run(
            commands(src, src.stat().st_size, work, args.chunk_duration)
        )
        print(f"{src.name}: {len(parts)} chunks; their seeks decode {thrown} frames they throw away")
        for r in range(args.rounds):
            order = ["whole", "chunks"] if r % 2 == 0 else ["chunks", "whole"]
            took = {side: cpu_seconds([whole] if side == "whole" else parts, args.core) for side in order}
            print(
                f"  round {r + 1}: whole {took['whole']:.1f} s CPU, chunks {took['chunks']:.1f} s CPU "
                f"({took['chunks'] - took['whole']:+.1f} s, {took['chunks'] / took['whole']:.3f}×)",
                flush=True,
            )
        print(
            f"keyframes: whole output {keyframes(work / 'whole.webm')}, chunks {sum(map(keyframes, files))}"
        )


if __name__ == "__main__":
    main()
