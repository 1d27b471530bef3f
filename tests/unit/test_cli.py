"""The `recast` CLI's pieces that need no stack: parsing `--output` and `--clip`, and the progress bar."""

from __future__ import annotations

import argparse

import pytest

from recast.client.cli import parse_clip, parse_output, render_bar
from recast.core.job import Stage
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
