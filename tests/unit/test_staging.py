"""The worker's staging area for the upload step (activities/scratch.py StagingArea): a worker starting on
a shared scratch folder removes what dead workers staged and leaves live workers' alone; a stopping
worker removes its own; outputs staged a day ago go."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from activities.scratch import STAGED_MAX_AGE_S, StagingArea

HOLD = """
import os, sys, time
from pathlib import Path
from activities.scratch import StagingArea
area = StagingArea(Path(sys.argv[1]), sys.argv[2])
print("ready", flush=True)
time.sleep(60)
"""


def staged_file(area: StagingArea, job: str, output: str, scratch: Path) -> Path:
    made = scratch / f"{output}.mp4"
    made.write_bytes(b"rendition")
    return area.keep(made, job, output)


def test_a_new_worker_removes_dead_workers_staging_and_keeps_live_ones(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    # A live worker in another process, and one that died (its lock gone with it).
    live = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "live"], stdout=subprocess.PIPE, cwd=root, text=True
    )
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "ready"
        dies = HOLD.replace("time.sleep(60)", "os._exit(0)")  # its lock goes with it
        dead = subprocess.run(
            [sys.executable, "-c", dies, str(tmp_path), "dead"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert dead.stdout.strip() == "ready"
        assert (tmp_path / "staged" / "dead").is_dir()
        mine = StagingArea(tmp_path, "mine")
        assert sorted(p.name for p in (tmp_path / "staged").iterdir()) == ["live", "mine"]
        kept = staged_file(mine, "job_1", "out_1", tmp_path)
        assert mine.holds(kept) and kept.read_bytes() == b"rendition"
        assert not mine.holds(tmp_path / "elsewhere.mp4")
        mine.close()
        assert sorted(p.name for p in (tmp_path / "staged").iterdir()) == ["live"]
    finally:
        live.kill()
        live.wait()


def test_outputs_staged_a_day_ago_are_removed(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, "w")
    old = staged_file(area, "job_old", "out_old", tmp_path)
    day_ago = time.time() - STAGED_MAX_AGE_S - 60
    os.utime(old.parent, (day_ago, day_ago))
    new = staged_file(area, "job_new", "out_new", tmp_path)
    assert not old.exists() and not old.parent.parent.exists()
    assert new.exists()
    area.close()
