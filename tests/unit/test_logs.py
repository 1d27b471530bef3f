"""Log lines as recast.infra.logs writes them: redaction of URLs, tokens and configured secrets; the job
fields from the bound context and from Temporal's loggers; uvicorn's access line; both formats through
the handler `configure` installs; ffmpeg's command and its stderr tail from a real ffmpeg run."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activities.ffmpeg_process import FfmpegFailed, run_ffmpeg
from recast.infra import logs
from recast.media.tools import GLOBAL_ARGS


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A buffer for `configure`'s handler to write to (`configured`); the root logger as it was after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def configured(fmt: str, stream: io.StringIO, secrets: list[str] | None = None) -> None:
    logs.configure("worker", fmt, "INFO", secrets=secrets or [])
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logs._Handler))
    handler.setStream(stream)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# ---------------------------------------------------------------- redaction -------------------------------


@pytest.mark.parametrize(
    "raw,clean",
    [
        (
            "https://b.s3.amazonaws.com/in.mp4?X-Amz-Signature=abc123&X-Amz-Expires=3600",
            "https://b.s3.amazonaws.com/in.mp4?X-Amz-Signature=***&X-Amz-Expires=***",
        ),
        ("fetching https://user:pa55@example.com/a.mp4", "fetching https://***@example.com/a.mp4"),
        ("s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtn@bucket/key", "s3://***@bucket/key"),
        ("key AKIAIOSFODNN7EXAMPLE leaked", "key *** leaked"),
        ("GET /v1/files/eyJrIjoiYSJ9.c2ln/seg_001.ts 200", "GET /v1/files/***/seg_001.ts 200"),
        ("PUT /v1/uploads/up_1?token=tok.sig 204", "PUT /v1/uploads/up_1?token=*** 204"),
        ("Authorization: Bearer rk_live_abc.def", "Authorization: Bearer ***"),
        (
            "ffmpeg -i /scratch/job_1/in.mp4 -c:v libx264 out.mp4",
            "ffmpeg -i /scratch/job_1/in.mp4 -c:v libx264 out.mp4",
        ),
    ],
)
def test_redact(raw: str, clean: str) -> None:
    assert logs.redact(raw) == clean


def test_a_command_is_quoted_and_redacted() -> None:
    args = ["ffmpeg", "-i", "https://h/a b.mp4?sig=SECRET&se=2026", "-metadata", "title=x y", "/o/out.mp4"]
    assert (
        logs.redact_command(args)
        == "ffmpeg -i 'https://h/a b.mp4?sig=***&se=***' -metadata 'title=x y' /o/out.mp4"
    )


def test_configured_secrets_never_print(stream: io.StringIO) -> None:
    configured("json", stream, secrets=["s3-secret-value-123", "short"])
    logging.getLogger("recast.test").warning("store said: bad key s3-secret-value-123 (short)")
    (line,) = records(stream)
    assert line["msg"] == "store said: bad key *** (short)"  # under 8 characters is no secret worth it


# ---------------------------------------------------------------- fields and formats ----------------------


def test_json_lines_carry_the_bound_job_and_the_call_s_fields(stream: io.StringIO) -> None:
    configured("json", stream)
    log = logging.getLogger("recast.test")
    with logs.context(job_id="job_1", output_id="out_1", attempt=2, activity="encode_output"):
        log.info("done in %.1f s", 1.25, extra={"bytes": 1234, "url": "https://h/x?sig=s"})
        logs.bind(note="later")
        log.info("again")
    log.info("outside")
    first, second, third = records(stream)
    assert list(first)[:9] == [
        "ts", "level", "service", "logger", "msg", "job_id", "output_id", "attempt", "activity"
    ]  # fmt: skip
    assert first["msg"] == "done in 1.2 s" and first["service"] == "worker" and first["level"] == "INFO"
    assert (first["job_id"], first["output_id"], first["attempt"]) == ("job_1", "out_1", 2)
    assert first["bytes"] == 1234 and first["url"] == "https://h/x?sig=***"
    assert second["note"] == "later"
    assert "job_id" not in third and "note" not in third


def test_temporal_logger_details_become_job_fields(stream: io.StringIO) -> None:
    """What activity.logger and workflow.logger put in `extra`: the workflow ID is the job ID."""
    configured("json", stream)
    log = logging.getLogger("temporalio.workflow")
    log.info(
        "job started", extra={"temporal_workflow": {"workflow_id": "job_9", "run_id": "r"}, "outputs": 2}
    )
    act = {"workflow_id": "job_9", "attempt": 3, "activity_type": "fetch_input", "activity_id": "1"}
    logging.getLogger("temporalio.activity").warning("failed", extra={"temporal_activity": act})
    wf, activity = records(stream)
    assert wf["job_id"] == "job_9" and wf["outputs"] == 2 and "temporal_workflow" not in wf
    assert (activity["job_id"], activity["attempt"], activity["activity"]) == ("job_9", 3, "fetch_input")


def test_uvicorn_access_line(stream: io.StringIO) -> None:
    configured("json", stream)
    access = logging.getLogger("uvicorn.access")
    with logs.context(started=0.0, job_id="job_2"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/v1/files/tok.sig?x=1", "1.1", 200)
    (line,) = records(stream)
    assert line["msg"] == "GET /v1/files/***?x=*** 200"
    assert (line["method"], line["path"], line["status"], line["job_id"]) == (
        "GET",
        "/v1/files/***?x=***",
        200,
        "job_2",
    )
    assert line["duration_ms"] > 0 and "started" not in line


def test_text_lines_are_readable(stream: io.StringIO) -> None:
    configured("text", stream)
    with logs.context(job_id="job_1", output_id="out_1", attempt=1, activity="encode_output"):
        logging.getLogger("recast.ffmpeg").info("ffmpeg started", extra={"command": "ffmpeg -i 'a b.mp4'"})
    text = stream.getvalue().strip()
    stamp, rest = text.split(" ", 1)
    assert stamp.endswith("Z")
    assert (
        rest
        == """worker INFO recast.ffmpeg [job_1 out_1 attempt=1] ffmpeg started command="ffmpeg -i 'a b.mp4'\""""
    )


def test_configure_twice_keeps_one_handler(stream: io.StringIO) -> None:
    configured("text", stream)
    configured("json", stream)
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logs._Handler)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
    with pytest.raises(ValueError, match="log format"):
        logs.configure("api", "xml")


# ---------------------------------------------------------------- ffmpeg ----------------------------------


def test_a_failing_ffmpeg_logs_its_command_and_stderr_tail(stream: io.StringIO, tmp_path: Path) -> None:
    """Real ffmpeg, asked to read a file that is not there: the command is logged before, the exit code
    and ffmpeg's own words after."""
    configured("json", stream)
    missing = tmp_path / "missing.mp4"
    args = ["ffmpeg", *GLOBAL_ARGS, "-i", str(missing), str(tmp_path / "out.mp4")]
    with logs.context(job_id="job_3", output_id="out_3", attempt=1), pytest.raises(FfmpegFailed):
        asyncio.run(run_ffmpeg(args, 1.0, 30, lambda _: None))
    started, failed = records(stream)
    assert started["msg"] == "ffmpeg started" and started["command"].startswith("ffmpeg -hide_banner")
    assert str(missing) in started["command"]
    assert failed["msg"] == "ffmpeg exited with 1" and failed["level"] == "WARNING"
    assert any("No such file or directory" in line for line in failed["stderr_tail"])
    assert (failed["job_id"], failed["output_id"], failed["attempt"]) == ("job_3", "out_3", 1)
