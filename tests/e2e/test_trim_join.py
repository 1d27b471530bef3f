"""Trim and join: `clip {start, end}` cuts every output from the input (or the joined timeline), and
`inputs` joins 1–10 inputs in order, normalizing sizes, frame rates and missing audio.

End to end through the shared stack with tiny lavfi clips; every output is downloaded and probed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.core import pricing, timeline
from recast.core.job import InputMetadata
from recast.core.requests import Clip, Priority
from recast.core.specs import OutputSpec
from recast.devstack.stack import Stack
from tests.helpers import Api, make_clip, make_tone, second_api, stream

MP4 = {"type": "mp4", "video": {"codec": "h264", "preset": "ultrafast"}}
TOLERANCE_S = 0.1


@pytest.fixture(scope="module")
def media(clips: dict[str, Path]) -> dict[str, Path]:
    """Clips in the folder the `http_server` fixture serves."""
    d = clips["small"].parent
    return {
        "two": make_clip(d / "tj-two.mp4", seconds=2, size="320x240", rate=25),
        "small25": make_clip(d / "tj-320x240-25.mp4", seconds=1, size="320x240", rate=25),
        "wide30": make_clip(d / "tj-640x360-30-silent.mp4", seconds=1, size="640x360", rate=30, audio=False),
        "tone": make_tone(d / "tj-tone.m4a"),
        "notmedia": clips["notmedia"],
    }


def duration(data: dict[str, Any]) -> float:
    return float(data["format"]["duration"])


def max_volume_db(path: Path, start: float, length: float) -> float:
    """The loudest sample of `length` seconds from `start`, in dB (about -91 for digital silence)."""
    run = subprocess.run(
        [
            *("ffmpeg", "-v", "info", "-ss", str(start), "-t", str(length), "-i", str(path)),
            *("-map", "0:a", "-af", "volumedetect", "-f", "null", "-"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in run.stderr.splitlines() if "max_volume" in x)
    return float(line.split("max_volume:")[1].split("dB")[0])


def upload(api: Api, path: Path) -> str:
    """Upload `path` through POST /v1/uploads; its `upload://` input URL."""
    resp = api.http.post(
        "/v1/uploads", json={"filename": path.name, "size": path.stat().st_size, "content_type": "video/mp4"}
    )
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    put = httpx.put(ticket["url"], content=path.read_bytes(), timeout=30)
    assert put.status_code == 200, put.text
    return str(ticket["input_url"])


def upload_form(api: Api, path: Path, outputs: list[dict[str, Any]], **fields: str) -> httpx.Response:
    """A multipart submission (`Api.upload` names its file argument `clip`, so it cannot pass the field)."""
    with path.open("rb") as fh:
        return api.http.post(
            "/v1/jobs",
            files={"media": (path.name, fh, "video/mp4")},
            data={"outputs": json.dumps(outputs), **fields},
        )


def submit_json(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    resp = api.http.post("/v1/jobs", json=body)
    assert resp.status_code == 202, resp.text
    return api.wait(resp.json()["id"])


# ---------------------------------------------------------------- trim --------------------------------------


def test_trim_video_and_audio_outputs(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    resp = upload_form(
        api, media["two"], [MP4, {"type": "mp3", "audio": {"bitrate": 64}}], clip='{"start": 0.5, "end": 1.5}'
    )
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    assert job["clip"] == {"start": 0.5, "end": 1.5}
    assert job["input_metadata"]["duration_ms"] == 2000  # the input, not the clip
    video = api.fetch_output(job, 0, tmp_path / "o.mp4")
    assert abs(duration(video) - 1.0) <= TOLERANCE_S
    assert stream(video, "video") is not None and stream(video, "audio") is not None
    mp3 = api.fetch_output(job, 1, tmp_path / "o.mp3")
    assert abs(duration(mp3) - 1.0) <= TOLERANCE_S
    assert stream(mp3, "video") is None
    assert all(abs(o["duration_ms"] - 1000) <= TOLERANCE_S * 1000 for o in job["outputs"])


def test_clip_end_past_the_input_is_clamped(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    resp = upload_form(api, media["two"], [{"type": "m4a"}], clip='{"start": 1.2, "end": 30}')
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    assert job["clip"] == {"start": 1.2, "end": 2.0}
    assert abs(duration(api.fetch_output(job, 0, tmp_path / "o.m4a")) - 0.8) <= TOLERANCE_S


def test_clip_starting_past_the_end_fails_the_job(api: Api, media: dict[str, Path]) -> None:
    resp = upload_form(api, media["two"], [MP4], clip='{"start": 5, "end": 6}')
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "failed"
    assert job["error_code"] == "invalid-clip"
    assert "clip.start (5 s) is at or past the end of the input (2.00 s)" in job["error_message"]
    assert [o["status"] for o in job["outputs"]] == ["failed"]


# ---------------------------------------------------------------- join --------------------------------------


def test_join_different_sizes_rates_and_missing_audio(
    api: Api, http_server: str, media: dict[str, Path], tmp_path: Path
) -> None:
    job = submit_json(
        api,
        {
            "inputs": [f"{http_server}/{media['small25'].name}", f"{http_server}/{media['wide30'].name}"],
            "outputs": [MP4],
        },
    )
    assert job["status"] == "completed", job
    data = api.fetch_output(job, 0, tmp_path / "joined.mp4")
    video, audio = stream(data, "video"), stream(data, "audio")
    assert video is not None and audio is not None
    # The largest input's size, the highest frame rate, square pixels.
    assert (video["width"], video["height"], video["avg_frame_rate"]) == (640, 360, "30/1")
    assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")
    assert abs(duration(data) - 2.0) <= TOLERANCE_S
    # The first input's tone, then silence for the input without audio.
    assert max_volume_db(tmp_path / "joined.mp4", 0.1, 0.7) > -30
    assert max_volume_db(tmp_path / "joined.mp4", 1.2, 0.6) < -80
    # The job describes the joined timeline and each input.
    meta = job["input_metadata"]
    assert (meta["duration_ms"], meta["width"], meta["height"], meta["framerate"]) == (2000, 640, 360, 30.0)
    assert [(i["metadata"]["width"], i["metadata"]["framerate"]) for i in job["inputs"]] == [
        (320, 25.0),
        (640, 30.0),
    ]
    assert job["inputs"][1]["metadata"]["audio_codec"] is None
    assert job["input"]["url"].endswith(media["small25"].name)


def test_join_three_from_uploads_and_urls_with_a_clip(
    api: Api, http_server: str, media: dict[str, Path], tmp_path: Path
) -> None:
    job = submit_json(
        api,
        {
            "inputs": [
                upload(api, media["small25"]),
                f"{http_server}/{media['wide30'].name}",
                f"{http_server}/{media['small25'].name}",
            ],
            # On the joined timeline: the second half of input 0, all of input 1, a quarter of input 2.
            "clip": {"start": 0.5, "end": 2.25},
            "outputs": [{"type": "webm", "video": {"codec": "vp9", "width": 320, "quality": "economy"}}],
        },
    )
    assert job["status"] == "completed", job
    assert len(job["inputs"]) == 3 and job["inputs"][0]["url"].startswith("upload://")
    assert job["input_metadata"]["duration_ms"] == 3000
    data = api.fetch_output(job, 0, tmp_path / "joined.webm")
    video = stream(data, "video")
    assert video is not None and (video["codec_name"], video["width"], video["height"]) == ("vp9", 320, 180)
    assert stream(data, "audio") is not None
    assert abs(duration(data) - 1.75) <= TOLERANCE_S


def test_join_repeats_one_upload_and_equal_silences(
    api: Api, http_server: str, media: dict[str, Path], tmp_path: Path
) -> None:
    """The same upload twice (one stored file) and two equally long inputs without audio (two equal
    stretches of silence): each piece must stay its own ffmpeg input."""
    again = upload(api, media["small25"])
    silent = f"{http_server}/{media['wide30'].name}"
    job = submit_json(api, {"inputs": [again, silent, again, silent], "outputs": [MP4]})
    assert job["status"] == "completed", job
    data = api.fetch_output(job, 0, tmp_path / "repeated.mp4")
    assert stream(data, "audio") is not None
    assert abs(duration(data) - 4.0) <= TOLERANCE_S


def test_join_audio_only_input_fails_video_outputs_only(
    api: Api, http_server: str, media: dict[str, Path], tmp_path: Path
) -> None:
    job = submit_json(
        api,
        {
            "inputs": [f"{http_server}/{media['small25'].name}", f"{http_server}/{media['tone'].name}"],
            "outputs": [MP4, {"type": "flac"}],
        },
    )
    assert job["status"] == "partial", job
    failed = job["outputs"][0]
    assert failed["error_code"] == "no-video-stream"
    assert failed["error_message"].startswith("inputs[1] has no video stream")
    data = api.fetch_output(job, 1, tmp_path / "joined.flac")
    assert abs(duration(data) - 2.0) <= TOLERANCE_S


def test_a_bad_input_among_joined_fails_the_job_naming_it(
    api: Api, http_server: str, media: dict[str, Path]
) -> None:
    job = submit_json(
        api,
        {
            "inputs": [
                f"{http_server}/{media['small25'].name}",
                f"{http_server}/{media['notmedia'].name}",
                f"{http_server}/{media['wide30'].name}",
            ],
            "outputs": [MP4],
        },
    )
    assert job["status"] == "failed"
    assert job["error_code"] == "invalid-media"
    assert job["error_message"].startswith("inputs[1]: ")

    job = submit_json(
        api,
        {"inputs": [f"{http_server}/{media['small25'].name}", f"{http_server}/nope.mp4"], "outputs": [MP4]},
    )
    assert (job["status"], job["error_code"]) == ("failed", "input-unreachable")
    assert job["error_message"].startswith("inputs[1]: ") and "404" in job["error_message"]


def test_a_join_longer_than_the_duration_limit_fails(
    stack: Stack, temporal: Stack, http_server: str, media: dict[str, Path], tmp_path: Path
) -> None:
    """Each input passes RECAST_MAX_DURATION at probe; their join is held to it too (a clip counts)."""
    with second_api(stack, temporal, tmp_path / "api", RECAST_MAX_DURATION="3") as url:
        short = Api(url)
        inputs = [f"{http_server}/{media['two'].name}"] * 2
        job = submit_json(short, {"inputs": inputs, "outputs": [{"type": "mp3"}]})
        assert (job["status"], job["error_code"]) == ("failed", "too-long")
        assert "the joined inputs last 4.0 s, longer than the limit of 3 s" in job["error_message"]
        job = submit_json(
            short, {"inputs": inputs, "clip": {"start": 1, "end": 3.5}, "outputs": [{"type": "mp3"}]}
        )
        assert job["status"] == "completed", job
        assert abs(job["outputs"][0]["duration_ms"] - 2500) <= TOLERANCE_S * 1000


# ---------------------------------------------------------------- refusals -----------------------------------


URL = "https://example.com/a.mp4"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input_url": URL, "inputs": [URL]}, "give input_url or inputs, not both"),
        ({"inputs": [URL] * 11}, "inputs: List should have at most 10 items"),
        ({"inputs": []}, "inputs: List should have at least 1 item"),
        ({"inputs": [URL, "ftp://example.com/b.mp4"]}, "inputs[1] must use one of the schemes"),
        ({"inputs": [URL, "upload://nope"]}, "inputs[1]: upload:// takes the upload_id"),
        ({"input_url": URL, "clip": {"start": 2, "end": 1}}, "clip: end (1) must be greater than start (2)"),
        ({"input_url": URL, "clip": {"start": 1, "end": 1}}, "clip: end (1) must be greater than start (1)"),
        (
            {"input_url": URL, "clip": {"start": -1, "end": 1}},
            "clip.start: Input should be greater than or equal to 0",
        ),
        ({"input_url": URL, "clip": {"start": 1, "end": 1.05}}, "clip: the clip must last at least 0.1 s"),
        ({"input_url": URL, "clip": {"start": 0, "stop": 1}}, "clip.stop: Extra inputs are not permitted"),
    ],
)
def test_invalid_inputs_and_clips_are_refused(api: Api, body: dict[str, Any], message: str) -> None:
    resp = api.http.post("/v1/jobs", json={**body, "outputs": [MP4]})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "invalid-input"
    assert message in resp.json()["error"]["message"]


def test_media_file_with_inputs_is_refused(api: Api, media: dict[str, Path]) -> None:
    resp = upload_form(api, media["two"], [MP4], inputs=f'["{URL}"]')
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["message"] == "send either a media file or inputs, not both"


def test_an_unknown_upload_among_inputs_is_named(api: Api) -> None:
    resp = api.http.post("/v1/jobs", json={"inputs": [URL, "upload://up_" + "x" * 24], "outputs": [MP4]})
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["error"]["message"].startswith("inputs[1]: ")


# ---------------------------------------------------------------- the timeline (pure) ----------------------


def meta(
    seconds: float, width: int | None = 640, height: int | None = 360, fps: float | None = 30
) -> InputMetadata:
    return InputMetadata(
        duration_ms=round(seconds * 1000), width=width, height=height, framerate=fps, file_size_bytes=1000
    )


def test_pieces_cut_the_clip_from_the_joined_timeline() -> None:
    metas = [meta(2), meta(1), meta(3)]
    clip = timeline.resolve_clip(Clip(start=1.5, end=3.5), 6000)
    assert timeline.pieces(metas, clip) == [(0, 1.5, 0.5), (1, 0.0, 1.0), (2, 0.0, 0.5)]
    assert timeline.pieces(metas, None) == [(0, 0.0, 2.0), (1, 0.0, 1.0), (2, 0.0, 3.0)]
    # An input wholly outside the clip is not read; a sliver under a frame is left out.
    assert timeline.pieces(metas, Clip(start=3.0, end=4.0)) == [(2, 0.0, 1.0)]
    assert timeline.pieces(metas, Clip(start=1.98, end=2.5)) == [(1, 0.0, 0.5)]


def test_joined_metadata_and_clamping() -> None:
    joined = timeline.joined_metadata([meta(2, 320, 240, 25), meta(1, 1280, 720, 24), meta(1, 640, 360, 50)])
    assert (joined.duration_ms, joined.width, joined.height, joined.framerate) == (4000, 1280, 720, 50)
    assert timeline.joined_metadata([meta(1), meta(1, None, None, None)]).width is None
    assert timeline.resolve_clip(Clip(start=1, end=99), 4000) == Clip(start=1, end=4)
    assert timeline.resolve_clip(Clip(start=1), 4000) == Clip(start=1, end=4)
    with pytest.raises(timeline.ClipError, match="at or past the end"):
        timeline.resolve_clip(Clip(start=4, end=5), 4000)
    with pytest.raises(timeline.ClipError, match=r"at least 0\.1 s"):
        timeline.resolve_clip(Clip(start=3.95, end=5), 4000)


def test_every_joined_file_is_opened_with_the_whitelists_and_seeked_before_reading(tmp_path: Path) -> None:
    """Each input of a join is read like a single input (protocol `file`, the demuxer whitelist), and
    a clip seeks each piece with -ss/-t before its -i instead of decoding from the start."""
    from recast.media import renditions, tools

    parts = [(tmp_path / f"in{i}.mp4", meta(2)) for i in range(3)]
    joined = timeline.joined_metadata([m for _, m in parts])
    clip = timeline.resolve_clip(Clip(start=2.5, end=5), joined.duration_ms)
    spec = OutputSpec.model_validate(MP4)
    args = renditions.encode_plan(spec, joined, parts[0][0], tmp_path / "o.mp4", parts=parts, clip=clip).args
    opened = [i for i, a in enumerate(args) if a.startswith("file:") and args[i - 1] == "-i"]
    assert [args[i] for i in opened] == [f"file:{tmp_path}/in1.mp4", f"file:{tmp_path}/in2.mp4"]
    for i in opened:
        before = args[max(0, i - 11) : i]
        assert before[before.index("-protocol_whitelist") + 1] == "file"
        assert before[before.index("-format_whitelist") + 1] == tools.FORMAT_WHITELIST
        assert "-t" in before
    assert args[opened[0] - 11 : opened[0]].count("-ss") == 1  # input 1 from 0.5 s
    assert "concat" in args[args.index("-filter_complex") + 1]


def test_price_follows_the_output_duration() -> None:
    long = meta(600)
    specs = [OutputSpec.model_validate(MP4)]
    whole = pricing.estimate(specs, long, Priority.standard)
    clipped = timeline.resolve_clip(Clip(start=60, end=180), long.duration_ms)
    part = pricing.estimate(
        specs, long, Priority.standard, timeline.output_duration_s(long.duration_ms, clipped)
    )
    assert part == pytest.approx(whole / 5)


def test_outputs_of_activities_without_trim_or_join_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An output kind whose activity ignores parts and clip is refused, not made from the whole input."""
    from recast.core import output_activities as transcode  # timeline_unsupported's tables

    spec = OutputSpec.model_validate(MP4)
    monkeypatch.setitem(transcode.OUTPUT_ACTIVITY, spec.type, "some_other_activity")
    assert (
        transcode.timeline_unsupported(spec, clipped=True, joined=True)
        == "mp4 outputs cannot be made from a clip yet"
    )
    assert transcode.timeline_unsupported(spec, clipped=False, joined=True) == (
        "mp4 outputs cannot be made from joined inputs yet"
    )
    assert transcode.timeline_unsupported(spec, clipped=False, joined=False) is None
    monkeypatch.setattr(transcode, "TIMELINE_ACTIVITIES", {"encode_output", "some_other_activity"})
    assert transcode.timeline_unsupported(spec, clipped=True, joined=True) is None
