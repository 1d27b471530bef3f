"""The split-and-stitch benchmark's arithmetic (bench/chunked.py): which runs a ratio compares, and
the speed-up with the CPU's drift taken out."""

from __future__ import annotations

from typing import Any

import pytest

from bench.chunked import median_of, ratios, speedups


def run(encode_s: float, cpu_s: float, size: int = 1000) -> dict[str, Any]:
    return {"encode_s": encode_s, "ffmpeg_cpu_s": cpu_s, "bytes": size}


def test_speedup_as_timed_and_at_one_speed() -> None:
    # Two workers took 50 s for what one did in 100 s, but the CPU ran 10 % slower during their run
    # (110 CPU seconds for the same frames): at one speed they would have taken 50 / 1.1 s.
    found = speedups(run(100.0, 100.0), run(50.0, 110.0))
    assert found["speedup_2_workers"] == pytest.approx(2.0)
    assert found["speedup_same_speed"] == pytest.approx(2.2)


def test_each_chunk_length_is_compared_with_its_own_whole_encode() -> None:
    runs = {
        "whole-1": run(100.0, 100.0, 1000),
        "chunked-1-10s": run(104.0, 103.0, 1010),
        "chunked-2-10s": run(52.0, 104.0, 1010),
        "whole-1@5s": run(120.0, 119.0, 1000),  # the pair run side by side with the 5 s chunks
        "chunked-1-5s": run(126.0, 125.0, 1020),
    }
    ten, five = ratios(runs, 10.0), ratios(runs, 5.0)
    assert ten["cost_1_worker"] == pytest.approx(1.04)
    assert ten["speedup_2_workers"] == pytest.approx(2.0)
    assert five["cost_1_worker"] == pytest.approx(1.05)
    assert "speedup_2_workers" not in five  # no 2-worker run of 5 s chunks
    assert five["size_ratio"] == pytest.approx(1.02)


def test_median_over_rounds_keeps_every_round() -> None:
    rounds = [{"cost_1_worker": c, "size_ratio": 1.01} for c in (1.06, 1.02, 1.04)]
    merged = median_of(rounds)
    assert merged["cost_1_worker"] == 1.04
    assert merged["cost_1_worker_rounds"] == [1.06, 1.02, 1.04]
    assert merged["size_ratio"] == 1.01  # not a per-round ratio: the first round's
