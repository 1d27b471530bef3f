"""Watermarks, animated previews and waveforms without a stack: the request models' rules (each refusal
names what is allowed), which activity makes them, the rules for inputs they cannot be made from,
prices, the watermark's geometry in ffmpeg's terms, and the readers of what ffmpeg wrote — an animated
WebP's chunks and the peaks of real decoded PCM, against ffmpeg's own astats."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from recast.core import pricing
from recast.core.contract import ENCODE_IMAGE, MAKE_ANIMATION, MAKE_WAVEFORM
from recast.core.formats import InputKind, OutputType
from recast.core.job import InputMetadata, Output, OutputStatus
from recast.core.output_activities import output_activity, timeline_unsupported
from recast.core.requests import Priority
from recast.core.specs import OutputSpec
from recast.core.watermark import WatermarkSpec
from recast.media import previews, watermark, waveform
from tests.helpers import make_with_ffmpeg
from workflows.rules import Source, unusable

VIDEO = {"type": "mp4", "video": {"codec": "h264"}}


def meta(**fields: Any) -> InputMetadata:
    """A 10 s 640x360 video with AAC audio, unless `fields` say otherwise."""
    base: dict[str, Any] = {"duration_ms": 10_000, "width": 640, "height": 360, "framerate": 30.0}
    return InputMetadata(**{**base, "audio_codec": "aac", "file_size_bytes": 1000, **fields})


def _refusal(spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        OutputSpec.model_validate(spec)
    return str(err.value)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (
            {"type": "mp3", "watermark": {"image": "https://a.example/l.png"}},
            "only for video outputs (mp4, webm",
        ),
        ({**VIDEO, "watermark": {"image": "ftp://a.example/l.png"}}, "http(s)://, s3://, gs:// or upload://"),
        ({**VIDEO, "watermark": {"image": "https://a/l.png", "start": 3, "end": 2}}, "end must be after"),
        ({**VIDEO, "watermark": {"image": "https://a/l.png", "width": 1.5}}, "less than or equal to 1"),
        ({**VIDEO, "watermark": {"image": "https://a/l.png", "position": "top"}}, "'top-left', 'top-right'"),
        ({"type": "png", "animation": {}}, "only for gif and webp outputs, not png"),
        ({"type": "gif", "animation": {"duration": 40}}, "less than or equal to 30"),
        ({"type": "gif", "animation": {"fps": 60}}, "less than or equal to 30"),
        ({"type": "webp", "animation": {}, "image": {"width": 50}}, "takes `animation`, not `image`"),
        ({"type": "gif", "audio": {"bitrate": 64}}, "takes no audio"),
        ({"type": "waveform", "audio": {"channels": 1}}, "not audio"),
        ({"type": "waveform", "waveform": {"background": "white"}}, "#RRGGBB or #RRGGBBAA"),
        ({"type": "jpg", "waveform": {}}, "only for waveform outputs, not jpg"),
    ],
)
def test_refusals_name_what_is_allowed(spec: dict[str, Any], says: str) -> None:
    assert says in _refusal(spec)


def test_defaults_and_dispatch() -> None:
    gif = OutputSpec.model_validate({"type": "gif"})
    assert gif.animation is None and gif.strategy == "animation-gif"
    animated = OutputSpec.model_validate({"type": "webp", "animation": {"width": 200}})
    still = OutputSpec.model_validate({"type": "webp"})
    wave = OutputSpec.model_validate({"type": "waveform"})
    assert wave.waveform is None and wave.strategy == "image-waveform"
    assert (output_activity(gif), output_activity(animated), output_activity(still)) == (
        MAKE_ANIMATION,
        MAKE_ANIMATION,
        ENCODE_IMAGE,
    )
    assert output_activity(wave) == MAKE_WAVEFORM
    # Both are made from a clip or a join like every other output.
    assert timeline_unsupported(animated, clipped=True, joined=True) is None
    assert timeline_unsupported(wave, clipped=True, joined=True) is None
    # A spec dumped into a workflow payload validates back unchanged.
    for spec in (
        gif,
        animated,
        wave,
        OutputSpec.model_validate({**VIDEO, "watermark": {"image": "upload://up_1"}}),
    ):
        assert OutputSpec.model_validate(spec.model_dump()) == spec


def test_inputs_a_preview_or_waveform_cannot_be_made_from() -> None:
    video, audio = meta(), meta(width=None, height=None, kind=InputKind.audio)
    silent = meta(audio_codec=None)
    still = InputMetadata(kind=InputKind.image, duration_ms=0, width=64, height=64, file_size_bytes=1)

    def why(spec: dict[str, Any], m: InputMetadata) -> str | None:
        found = unusable(OutputSpec.model_validate(spec), Source("k", m, [], None))
        return found[0] if found else None

    assert why({"type": "gif"}, video) is None and why({"type": "waveform"}, video) is None
    assert why({"type": "gif"}, audio) == "no-video-stream"
    assert why({"type": "webp", "animation": {}}, audio) == "no-video-stream"
    assert why({"type": "webp", "animation": {}}, still) == "image-input"
    assert why({"type": "webp"}, still) is None  # a still webp of a still picture, as before
    assert why({"type": "waveform"}, silent) == "no-audio-stream"
    assert why({"type": "waveform"}, audio) is None


def test_prices() -> None:
    m = meta(duration_ms=60_000)
    specs = [
        OutputSpec.model_validate({"type": "gif", "animation": {"duration": 10}}),
        OutputSpec.model_validate({"type": "webp", "animation": {"start": 55, "duration": 10}}),  # 5 s left
        OutputSpec.model_validate({"type": "waveform"}),
    ]
    want = 10 * pricing.ANIMATION_PER_SECOND + 5 * pricing.ANIMATION_PER_SECOND + pricing.AUDIO_PER_MINUTE
    assert pricing.estimate(specs, m, Priority.standard) == round(want, 4)
    assert pricing.estimate(specs, m, Priority.premium) == round(2 * want, 4)
    assert pricing.estimate(specs[2:], meta(audio_codec=None), Priority.standard) == 0
    plain, marked = (
        OutputSpec.model_validate(VIDEO),
        OutputSpec.model_validate({**VIDEO, "watermark": {"image": "upload://u"}}),
    )
    assert pricing.estimate([plain], m, Priority.standard) == pricing.estimate([marked], m, Priority.standard)
    done = [
        Output(id="a", type=OutputType.gif, status=OutputStatus.completed, duration_ms=3000),
        Output(id="b", type=OutputType.webp, status=OutputStatus.completed, duration_ms=0),  # a still
        Output(id="c", type=OutputType.waveform, status=OutputStatus.completed, duration_ms=120_000),
    ]
    assert pricing.actual(done, Priority.standard) == round(0.003 + pricing.IMAGE_PRICE + 2 * 0.002, 4)


@pytest.mark.parametrize(
    ("position", "xy"),
    [
        ("top-left", ("10", "10")),
        ("top-right", ("W-w-10", "10")),
        ("bottom-left", ("10", "H-h-10")),
        ("bottom-right", ("W-w-10", "H-h-10")),
        ("center", ("(W-w)/2", "(H-h)/2")),
    ],
)
def test_watermark_positions(position: str, xy: tuple[str, str]) -> None:
    spec = WatermarkSpec(image="upload://u", position=position, margin=20)  # type: ignore[arg-type]
    width, margin = watermark.box(spec, 1280, scale=0.5)
    assert (width, margin) == (192, 10)  # 15 % of 1280, even; the margin of a rung half as wide
    assert watermark.position(spec, margin) == xy


def test_watermark_image_check() -> None:
    still = InputMetadata(kind=InputKind.image, duration_ms=0, width=400, height=300, file_size_bytes=1)
    watermark.check_image(still, max_pixels=120_000)
    with pytest.raises(Exception, match=r"more than the limit of 0\.1 megapixels"):
        watermark.check_image(still, max_pixels=100_000)
    with pytest.raises(Exception, match="is a video, not a still picture"):
        watermark.check_image(meta(), max_pixels=10**9)


def test_read_webp_agrees_with_pillow(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (90, 50), (i * 40, 0, 0)) for i in range(5)]
    path = tmp_path / "a.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=3)
    got = previews.read_webp(path.read_bytes())
    assert (got.width, got.height, got.frames, got.loop) == (90, 50, 5, 3)
    assert got.duration_s == pytest.approx(0.5)
    with pytest.raises(Exception, match="not a RIFF WebP"):
        previews.read_webp(b"GIF89a" + bytes(40))


def test_peaks_of_decoded_pcm_match_astats(tmp_path: Path) -> None:
    """Peaks computed from PCM ffmpeg decoded: the loudest is what astats measures, and each bucket
    holds its own stretch of time (a tone that starts halfway)."""
    pcm = tmp_path / "a.pcm"
    tone = "sine=frequency=300:sample_rate=8000:duration=2,volume=0.5:eval=once,volume=0:enable='lt(t,1)'"
    make_with_ffmpeg("-f", "lavfi", "-i", tone, "-f", "s16le", "-c:a", "pcm_s16le", str(pcm))
    run = subprocess.run(
        ["ffmpeg", "-v", "info", "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", str(pcm), "-af", "astats",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    loudest = int(float(re.findall(r"Max level: ([-\d.]+)", run.stderr)[-1]))
    plan = waveform.WaveformPlan([], 100, 50, 1, 8000, 40, pcm, 2.0)
    peaks = waveform.peaks_json(plan)
    assert (peaks["length"], peaks["samples_per_pixel"], peaks["sample_rate"]) == (40, 400, 8000)
    lows, highs = peaks["data"][::2], peaks["data"][1::2]
    assert max(highs) == loudest and all(lo <= hi for lo, hi in zip(lows, highs, strict=True))
    assert max(highs[:19]) == 0 and min(highs[21:]) > 0.9 * loudest
    assert min(lows[21:]) < -0.9 * loudest


def test_peak_rate_keeps_long_inputs_bounded() -> None:
    assert waveform.peak_rate(10) == waveform.MAX_PEAK_RATE
    assert waveform.peak_rate(4 * 3600) * 4 * 3600 <= waveform.MAX_PCM_SAMPLES
    assert waveform.peak_rate(10**7) == waveform.MIN_PEAK_RATE


def test_plans_name_the_filters_they_promise(tmp_path: Path) -> None:
    """The commands as built: a palette pass for GIF, libwebp_anim for WebP, an overlay with its time
    window on a video output and on every rung of a ladder (each at its width), showwavespic and PCM."""
    from recast.media import renditions, streaming

    src, m = tmp_path / "in.mp4", meta()
    gif = previews.animation_plan(OutputSpec.model_validate({"type": "gif"}), m, src, tmp_path / "a.gif")
    graph = " ".join(gif.args)
    assert "palettegen" in graph and "paletteuse" in graph and (gif.frames, gif.width) == (30, 320)
    webp = previews.animation_plan(
        OutputSpec.model_validate({"type": "webp", "animation": {"start": 9, "fps": 25}}),
        meta(framerate=12.0),
        src,
        tmp_path / "a.webp",
    )
    assert "libwebp_anim" in webp.args and (webp.duration_s, webp.fps) == (
        1,
        12,
    )  # never above the input's fps
    with pytest.raises(Exception, match="past the end of the input"):
        previews.animation_plan(
            OutputSpec.model_validate({"type": "gif", "animation": {"start": 10}}), m, src, src
        )

    mark = {"image": "upload://u", "start": 1, "end": 2.5, "width": 0.5}
    one = renditions.encode_plan(
        OutputSpec.model_validate({**VIDEO, "watermark": mark}),
        m,
        src,
        tmp_path / "o.mp4",
        watermark_image=src,
    )
    graph = " ".join(one.args)
    assert "overlay=" in graph and "between(t\\,1.000\\,2.500)" in graph and "scale=320:-2" in graph
    without = renditions.encode_plan(
        OutputSpec.model_validate({**VIDEO, "watermark": mark}), m, src, tmp_path / "p.mp4"
    )
    assert "overlay" not in " ".join(without.args)  # no image given: the plan cannot lay one

    ladder = OutputSpec.model_validate(
        {
            "type": "hls",
            "video": [{"codec": "h264", "height": 360}, {"codec": "h264", "height": 180}],
            "watermark": mark,
        }
    )
    plan = streaming.ladder_plan(ladder, m, src, tmp_path / "pkg", watermark_image=src)
    graph = " ".join(plan.args)
    assert graph.count("overlay=") == 2 and "scale=320:-2" in graph and "scale=160:-2" in graph

    wave = waveform.waveform_plan(
        OutputSpec.model_validate({"type": "waveform"}), m, src, tmp_path, tmp_path / "x.pcm"
    )
    assert "showwavespic" in " ".join(wave.args) and "s16le" in wave.args and wave.points == 1800
    with pytest.raises(Exception, match="no audio stream"):
        waveform.waveform_plan(
            OutputSpec.model_validate({"type": "waveform"}), meta(audio_codec=None), src, tmp_path, src
        )


def test_output_path_templates() -> None:
    from datetime import UTC, datetime

    from recast.core import paths

    template = "{job_id}/{format}-{codec}-{resolution}-{quality}"
    specs: list[dict[str, Any]] = [
        {"type": "waveform", "waveform": {"width": 800, "height": 100}},
        {"type": "gif", "animation": {"width": 480, "colors": 64}},
        {"type": "webp", "animation": {"quality": 60}},
    ]
    made = {
        t["type"] + ("-animated" if "animation" in t else ""): paths.render(
            template,
            job_id="j",
            output_id="o",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            spec=OutputSpec.model_validate(t),
        )
        for t in specs
    }
    assert made == {
        "waveform": "j/waveform-png-800x100-default",  # a folder: no extension
        "gif-animated": "j/gif-gif-480w-64.gif",
        "webp-animated": "j/webp-webp-320w-60.webp",
    }


def test_a_watermarked_output_is_never_a_copy_or_chunked() -> None:
    """Remux copies the input's streams and chunks are encoded without finishing: a watermark needs the
    whole encode, so neither applies (else the watermark would silently be missing)."""
    from recast.core.chunking import chunkable
    from recast.media import remux

    marked = OutputSpec.model_validate({**VIDEO, "watermark": {"image": "upload://u"}})
    assert "watermark" in (remux.why_encode(marked, meta(), {}) or "")
    assert not chunkable(marked) and chunkable(OutputSpec.model_validate(VIDEO))
