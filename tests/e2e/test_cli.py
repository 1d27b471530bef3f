"""The `recast` CLI against a running stack: submit, progress, download."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from recast.devstack.stack import Stack
from tests.helpers import API_KEY, ffprobe, make_with_ffmpeg, stream


def run_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECAST_API_URL": stack.env["API_URL"], "RECAST_API_KEY": API_KEY}
    return subprocess.run(
        [sys.executable, "-m", "recast.client.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_submit_wait_download(stack: Stack, clips: dict[str, Path], tmp_path: Path) -> None:
    run = run_cli(stack, "submit", str(clips["small"]), "-o", "mp4:h264:480p", "--download", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "100% done" in run.stderr  # the progress bar reached the end
    [saved] = [Path(line) for line in run.stdout.split()]
    assert saved == tmp_path / "small-480p-h264.mp4"
    video = stream(ffprobe(saved), "video")
    assert video is not None and video["codec_name"] == "h264" and video["height"] == 360


def test_errors_are_reported_not_raised(stack: Stack, tmp_path: Path) -> None:
    run = run_cli(stack, "submit", str(tmp_path / "missing.mp4"), "-o", "mp4:h264")
    assert run.returncode == 2 and "no such file" in run.stderr
    run = run_cli(stack, "submit", "http://127.0.0.1:1/x.mp4", "-o", "webm:h264")
    assert run.returncode == 2 and "invalid-input" in run.stderr and "allowed: vp9" in run.stderr


def test_delayed_start_and_confirm(stack: Stack, clips: dict[str, Path]) -> None:
    run = run_cli(
        stack, "submit", str(clips["small"]), "-o", "mp4:h264:480p", "--delayed-start", "--priority", "premium",
        "--metadata", "customer=c-42", "--wait",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "awaiting confirmation: estimated" in run.stderr
    job_id = run.stderr.split()[0]
    confirmed = run_cli(stack, "confirm", job_id)
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.split() in ([job_id, "processing"], [job_id, "completed"])
    again = run_cli(stack, "confirm", job_id)
    assert again.returncode == 2
    assert "not-awaiting-confirmation" in again.stderr
    status = run_cli(stack, "status", job_id)
    job = json.loads(status.stdout)
    assert job["priority"] == "premium" and job["metadata"] == {"customer": "c-42"}


def test_submit_with_a_clip(stack: Stack, clips: dict[str, Path], tmp_path: Path) -> None:
    run = run_cli(
        stack,
        "submit",
        str(clips["small"]),
        "-o",
        "mp4:h264",
        "--clip",
        "0.5:1.5",
        "--download",
        str(tmp_path),
    )
    assert run.returncode == 0, run.stderr
    [saved] = [Path(line) for line in run.stdout.split()]
    assert abs(float(ffprobe(saved)["format"]["duration"]) - 1.0) <= 0.1


def test_submit_folder_and_audio_outputs_downloads_every_file(
    stack: Stack, clips: dict[str, Path], tmp_path: Path
) -> None:
    hls = {"type": "hls", "video": [{"codec": "h264", "resolution": "480p"}], "segments": {"duration": 1}}
    run = run_cli(
        stack, "submit", str(clips["small"]), "-o", json.dumps(hls), "-o", "mp3", "--download", str(tmp_path)
    )
    assert run.returncode == 0, run.stderr
    saved = [Path(line) for line in run.stdout.split()]
    [master] = [p for p in saved if p.suffix == ".m3u8"]
    [mp3] = [p for p in saved if p.suffix == ".mp3"]
    # The package is saved whole in its own folder: the master playlist's relative URIs resolve on disk.
    variants = [line for line in master.read_text().splitlines() if line and not line.startswith("#")]
    assert variants and all((master.parent / v).is_file() for v in variants)
    assert list(master.parent.rglob("*.m4s"))
    audio = stream(ffprobe(mp3), "audio")
    assert audio is not None and audio["codec_name"] == "mp3"


def test_watermark_and_previews(stack: Stack, tmp_path: Path) -> None:
    """`--watermark` uploads a local picture and lays it over the video outputs; `-o gif` and
    `-o waveform` are previews of their own."""
    grey, logo = tmp_path / "grey.mp4", tmp_path / "logo.png"
    make_with_ffmpeg(
        "-f", "lavfi", "-i", "color=c=0x808080:s=320x240:r=10:d=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(grey),
    )  # fmt: skip
    make_with_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=40x40", "-frames:v", "1", str(logo))
    out = tmp_path / "out"
    run = run_cli(
        stack, "submit", str(grey), "-o", "mp4:h264", "-o", "gif", "-o", "waveform", "--watermark", str(logo),
        "--watermark-position", "top-left", "--download", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    saved = {p.name for p in out.rglob("*") if p.is_file()}
    assert {"grey-source-h264.mp4", "grey.gif", "waveform.png", "waveform.json"} <= saved, saved
    corner = out / "corner.png"  # the watermark: 15 % of 320 = 48 px square, 16 px from the top-left
    make_with_ffmpeg(
        "-i", str(out / "grey-source-h264.mp4"), "-vf", "crop=16:16:32:32", "-frames:v", "1", str(corner)
    )
    with Image.open(corner) as img:
        r, g, b = img.convert("RGB").getpixel((8, 8))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60
