"""The worker's ffprobe started ahead: the same reports and errors as a fresh ffprobe, from the spare."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from activities.warm_ffprobe import WarmProbes
from recast.media import probe, tools
from tests.helpers import make_clip, make_with_ffmpeg


def without_filename(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "format": {k: v for k, v in data["format"].items() if k != "filename"}}


def test_reports_are_those_of_a_fresh_ffprobe(clips: dict[str, Path], tmp_path: Path) -> None:
    tone = tmp_path / "tone.ogg"  # Ogg: its duration needs a seek to the end
    make_with_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "libopus", str(tone))
    files = [clips["small"], clips["silent"], tone]

    probes = WarmProbes()
    used: list[Path] = []

    async def run() -> list[dict[str, Any]]:
        reports = []
        for f in [files[0], *files]:
            if probes._spare is not None:
                used.append(probes._spare.folder)
            reports.append(await probes.probe_raw(f))
        return reports

    reports = asyncio.run(run())
    probes.close()
    assert reports[0]["format"]["filename"] == f"file:{files[0]}", "the first probe has no spare yet"
    for path, report in zip(files, reports[1:], strict=True):
        assert report["format"]["filename"] != f"file:{path}", "this probe did not use the spare"
        assert without_filename(report) == without_filename(asyncio.run(probe.probe_raw(path)))
    assert len(used) == 3 and not any(folder.exists() for folder in used), "a spare's folder was left"


def test_errors_are_those_of_a_fresh_ffprobe(clips: dict[str, Path], tmp_path: Path) -> None:
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:2,\n{clips['small']}\n#EXT-X-ENDLIST\n")

    async def run(path: Path) -> str:
        probes = WarmProbes()
        await probes.probe_raw(clips["small"])  # now a spare is waiting
        try:
            with pytest.raises(tools.MediaError) as err:
                await probes.probe_raw(path)
            return f"{err.value.code}: {err.value}"
        finally:
            probes.close()

    for bad in (clips["notmedia"], playlist, tmp_path / "missing.mp4"):
        with pytest.raises(tools.MediaError) as fresh:
            asyncio.run(probe.probe_raw(bad))
        assert asyncio.run(run(bad)) == f"{fresh.value.code}: {fresh.value}"


def test_concurrent_probes_each_get_their_own_file(tmp_path: Path) -> None:
    sizes = ["320x240", "640x360", "480x270", "160x120"]
    files = [make_clip(tmp_path / f"{s}.mp4", seconds=1, size=s) for s in sizes]

    async def run() -> list[dict[str, Any]]:
        probes = WarmProbes()
        try:
            await probes.probe_raw(files[0])
            return await asyncio.gather(*(probes.probe_raw(f) for f in files))
        finally:
            probes.close()

    for size, report in zip(sizes, asyncio.run(run()), strict=True):
        video = probe.first_stream(report, "video")
        assert video is not None and f"{video['width']}x{video['height']}" == size


def test_a_spare_serves_the_next_event_loop_too(clips: dict[str, Path]) -> None:
    # The worker runs one loop; tests of activities run one after another, each with its own.
    probes = WarmProbes()
    asyncio.run(probes.probe_raw(clips["small"]))
    report = asyncio.run(probes.probe_raw(clips["silent"]))
    probes.close()
    assert report["format"]["filename"] != f"file:{clips['silent']}", "the spare was not used"
    assert probe.first_stream(report, "audio") is None


def test_close_stops_the_spare(clips: dict[str, Path]) -> None:
    probes = WarmProbes()
    asyncio.run(probes.probe_raw(clips["small"]))
    spare = probes._spare
    assert spare is not None and spare.proc.poll() is None, "no spare waiting"
    probes.close()
    assert spare.proc.poll() is not None and not spare.folder.exists()
