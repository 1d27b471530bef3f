"""The `recast` CLI's pieces that need no stack: parsing `--output`, `--metrics` and `--clip`, the progress bars
(rich on a terminal, plain lines otherwise), the flags of `recast template` and `recast batch` and a batch's bar."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from recast.client import cli_batch, cli_template
from recast.client.cli import (
    parse_clip,
    parse_metrics,
    parse_output,
    render_bar,
    watermarked,
    with_metrics,
)
from recast.client.progress import Display
from recast.core.batches import Batch, BatchCounts, BatchStatus
from recast.core.job import Job, JobStatus, OutputStatus, Stage
from recast.core.responses import JobEvent
from tests.helpers import make_job


def test_parse_output() -> None:
    assert parse_output("mp4:h264:720p:premium") == {
        "type": "mp4",
        "video": {"codec": "h264", "resolution": "720p", "quality": "premium"},
    }
    assert parse_output("webm:vp9") == {"type": "webm", "video": {"codec": "vp9"}}
    assert parse_output("mp3") == {"type": "mp3"}
    assert parse_output("preset:hls-ladder") == {"preset": "hls-ladder"}
    assert parse_output('{"type": "webp", "image": {"width": 320}}') == {
        "type": "webp",
        "image": {"width": 320},
    }
    for bad in ("preset:", "{not json", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_output(bad)


def test_metrics_go_on_every_video_output() -> None:
    assert parse_metrics("ssim, psnr,ssim") == ["ssim", "psnr"]
    for bad in ("vmaf", "", "ssim,vmaf"):
        with pytest.raises(argparse.ArgumentTypeError, match="ssim, psnr"):
            parse_metrics(bad)
    outputs = [
        parse_output(o) for o in ("mp4:h264:720p", "mp3", "preset:hls-ladder", "preset:audio-podcast", "jpg")
    ]
    marked = with_metrics(outputs, ["ssim"]) or []
    assert [dict(o).get("metrics") for o in marked] == [["ssim"], None, ["ssim"], None, None]
    assert with_metrics(outputs, []) == outputs
    assert with_metrics(None, ["ssim"]) is None  # --template without -o: the template's outputs


def test_parse_clip() -> None:
    assert parse_clip("12.5:42") == {"start": 12.5, "end": 42.0}
    assert parse_clip(":30") == {"end": 30.0}
    assert parse_clip("60:") == {"start": 60.0}
    for bad in ("12", ":", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_clip(bad)


def test_render_bar() -> None:
    job = make_job().model_copy(update={"progress": 50, "stage": Stage.encoding})
    assert render_bar(job, width=10) == "[#####.....]  50% encoding"


def event(name: str, job: Job) -> JobEvent:
    return JobEvent.model_validate({"event": name, "job": job, "server_time": job.updated_at})


def test_rich_bars_on_a_terminal_for_the_job_and_each_output() -> None:
    buf = io.StringIO()
    display = Display(Console(file=buf, force_terminal=True, width=120), interactive=True)
    job = make_job()
    with display.encoding() as on_event:
        on_event(event("snapshot", job))
        job.outputs[0].progress, job.progress = 60, 70
        on_event(event("progress", job))
        job.outputs[0].progress, job.progress, job.status = 100, 100, JobStatus.completed
        job.outputs[0].status = OutputStatus.completed
        on_event(event("completed", job))
    shown = buf.getvalue()
    assert "job_w1" in shown and "out_1 mp4" in shown
    assert "100%" in shown and "completed" in shown
    assert "━" in shown, "no bar was drawn"
    buf = io.StringIO()
    display = Display(Console(file=buf, force_terminal=True, width=120), interactive=True)
    with display.downloading() as on_progress:
        on_progress(job.outputs[0], "clip.mp4", 512, 1024)
        on_progress(job.outputs[0], "clip.mp4", 1024, 1024)
    assert "1.0/1.0 kB" in buf.getvalue()


def test_plain_lines_without_a_terminal_or_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Display(Console(file=io.StringIO())).interactive
    monkeypatch.setenv("CI", "true")
    assert not Display(Console(file=io.StringIO(), force_terminal=True)).interactive
    buf = io.StringIO()
    display = Display(Console(file=buf))
    job = make_job()
    with display.encoding() as on_event:
        on_event(event("snapshot", job))
        on_event(event("heartbeat", job))  # nothing changed: no second line
        job.progress = 100
        on_event(event("completed", job))
    assert buf.getvalue().splitlines() == [
        "[..............................]   0% queued",
        "[##############################] 100% queued",
    ]


def test_watermark_goes_on_every_video_output() -> None:
    outputs = [
        parse_output("mp4:h264:720p"),
        parse_output("gif"),
        parse_output("preset:hls-ladder"),
        parse_output("mp3"),
    ]
    marked = watermarked(outputs, "upload://up_1", "top-left")
    want = {"image": "upload://up_1", "position": "top-left"}
    assert [o.get("watermark") for o in marked] == [want, None, want, None]
    assert watermarked(outputs[:1], "https://example.com/l.png", None)[0]["watermark"] == {
        "image": "https://example.com/l.png"
    }
    with pytest.raises(argparse.ArgumentTypeError, match="none of the outputs is a video"):
        watermarked([parse_output("waveform")], "upload://up_1", None)


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="recast")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_batch.add_parser(sub)
    cli_template.add_parser(sub)
    return parser.parse_args(argv)


def test_template_flags_give_only_the_fields_named(tmp_path: Path) -> None:
    args = parsed("template", "update", "web", "-o", "mp3", "--metadata", "team=a", "--lock", "outputs")
    fields = cli_template.fields_of(args)
    assert {k: v for k, v in fields.items() if v is not None} == {
        "outputs": [{"type": "mp3"}],
        "metadata": {"team": "a"},
        "locked": ["outputs"],
    }
    assert not args.replace and args.json is None
    (tmp_path / "t.json").write_text('{"priority": "economy"}')
    assert parsed("template", "create", "web", "--json", f"@{tmp_path / 't.json'}").json == {
        "priority": "economy"
    }
    for bad in ("[1]", "{nope", f"@{tmp_path / 'missing.json'}"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli_template.parse_body(bad)
    with pytest.raises(SystemExit):  # not a field a template holds
        parsed("template", "create", "web", "--lock", "input_url")


def test_batch_flags_and_a_jobs_file(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.json"
    jobs.write_text('[{"input_url": "https://x/a.mp4", "template": "web"}]')
    args = parsed("batch", "submit", "a.mp4", "https://x/b.mp4", "--template", "web", "--jobs", str(jobs))
    assert args.sources == ["a.mp4", "https://x/b.mp4"] and args.jobs == [
        {"input_url": "https://x/a.mp4", "template": "web"}
    ]
    jobs.write_text('{"input_url": "https://x/a.mp4"}')
    with pytest.raises(argparse.ArgumentTypeError):
        cli_batch.parse_jobs(str(jobs))


def batch(**counts: int) -> Batch:
    at = datetime.now(UTC)
    status = BatchStatus.running if counts.get("queued") or counts.get("running") else BatchStatus.completed
    return Batch(id="bat_1", organization="o", status=status, total=4, counts=BatchCounts(**counts),
                 created_at=at, updated_at=at)  # fmt: skip


def test_batch_progress_plain_lines_and_rich_bar() -> None:
    assert cli_batch.render_batch(batch(queued=2, running=1, completed=1), width=8) == (
        "[##......] 1/4 ended: queued 2, running 1, completed 1"
    )
    buf = io.StringIO()
    with cli_batch.following(Display(Console(file=buf))) as on_update:
        on_update(batch(queued=4))
        on_update(batch(queued=4))  # nothing changed: no second line
        on_update(batch(completed=3, failed=1))
    assert buf.getvalue().splitlines() == [
        "[..............................] 0/4 ended: queued 4",
        "[##############################] 4/4 ended: completed 3, failed 1",
    ]
    buf = io.StringIO()
    display = Display(Console(file=buf, force_terminal=True, width=120), interactive=True)
    with cli_batch.following(display) as on_update:
        on_update(batch(running=2, completed=2))
    shown = buf.getvalue()
    assert "bat_1" in shown and "2/4" in shown and "running 2, completed 2" in shown and "━" in shown
