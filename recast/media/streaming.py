"""HLS/DASH ladders: the one ffmpeg command that encodes and packages every rung, and the check of the
package it wrote (manifest parsed, one segment per rung probed) before it may be `completed`.

Decode once: the input is decoded by one ffmpeg process and a `split` filter feeds every rung's
scaler and encoder. `bench/ladder.py` measured it against one process per rung on the 2-core
development machine (docs/benchmarks.md, "Streaming ladder"): 0.63–0.78× the time of one process
per rung, run one after another or in parallel, because the input is demuxed, decoded and converted
once instead of once per rung. It costs memory (~1.5× one rung's process for a 1080/720/480 ladder).
It also lets ffmpeg's own muxer write the master playlist / MPD with every rung in it.

Segments line up across rungs: every encoder gets a fixed GOP of framerate × segment length, scene
cuts may not add keyframes, and `-force_key_frames` puts one at every segment boundary by time (so
rungs with a lowered frame rate still cut at the same instants). The check below verifies it: every
rung has the same segment durations.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ffmpeg

from recast.core import timeline
from recast.core.formats import STREAM_ENTRY, Fit, OutputType, Quality, VideoCodec
from recast.core.job import InputMetadata
from recast.core.requests import Clip
from recast.core.specs import OutputSpec, VideoVariant, segment_duration, target_size
from recast.media import probe, renditions, tools, watermark

if TYPE_CHECKING:
    from recast.media.caption_tracks import CaptionPlan
    from recast.media.loudness import LoudnessPlan

HLS_ENTRY = STREAM_ENTRY[OutputType.hls]
DASH_ENTRY = STREAM_ENTRY[OutputType.dash]
# The hls and dash muxers write segment files and playlists themselves; `file` is all they need.
OUTPUT_PROTOCOLS = "file"

# Peak bitrate of a rung (kb/s) by output height, for H.264 at `standard` quality: the rung's CRF is
# capped at it (VBV), so a rung's BANDWIDTH in the manifest is a real ceiling a player can plan with.
H264_PEAK_KBPS = ((240, 400), (360, 900), (480, 1500), (720, 3000), (1080, 6000), (1440, 10000))
H264_PEAK_ABOVE = 18000
# Newer codecs need about this share of H.264's bits for the same picture.
CODEC_EFFICIENCY = {VideoCodec.h264: 1.0, VideoCodec.h265: 0.6, VideoCodec.vp9: 0.65, VideoCodec.av1: 0.55}
QUALITY_PEAK = {Quality.economy: 0.7, Quality.standard: 1.0, Quality.premium: 1.4}
# What a manifest's CODECS / codecs attribute starts with, per codec.
CODECS_PREFIX = {
    VideoCodec.h264: "avc1",
    VideoCodec.h265: "hvc1",
    VideoCodec.vp9: "vp09",
    VideoCodec.av1: "av01",
}


@dataclass(frozen=True)
class Rung:
    index: int
    name: str  # the rung's folder in an HLS package, e.g. "720p"
    variant: VideoVariant
    width: int
    height: int
    framerate: float | None  # the rung's frame rate when lowered, else None (the input's)
    gop: int  # frames between keyframes: framerate × segment length
    peak_kbps: int


@dataclass(frozen=True)
class LadderPlan:
    args: list[str]
    rungs: list[Rung]
    entry: str  # the manifest, relative to the package folder
    audio_codec: str | None
    audio_channels: int | None
    sample_rate: int | None
    segment_s: int
    duration_s: float  # what every rung must last: the clip, or the whole (joined) input


def peak_kbps(variant: VideoVariant, height: int) -> int:
    """The rung's bitrate ceiling: what was asked (`bitrate`), else the height's row, scaled by codec
    efficiency and quality."""
    if variant.bitrate:
        return variant.bitrate
    base = next((kbps for top, kbps in H264_PEAK_KBPS if height <= top), H264_PEAK_ABOVE)
    return round(base * CODEC_EFFICIENCY[variant.codec] * QUALITY_PEAK[variant.quality])


def plan_rungs(spec: OutputSpec, meta: InputMetadata, source_fps: float | None) -> list[Rung]:
    """Every rung's size (never above the source's), frame rate (never above `source_fps`) and GOP."""
    assert meta.width and meta.height
    seg = segment_duration(spec)
    sized = [(v, *target_size(v, meta.width, meta.height)) for v in spec.video]
    heights = [h for _, _, h in sized]
    rungs = []
    for i, (variant, width, height) in enumerate(sized):
        framerate = None
        if variant.framerate and (source_fps is None or variant.framerate < source_fps):
            framerate = variant.framerate  # never raised, as for single files
        renditions.check_encoder_size(variant.codec, width, height)
        fps = framerate or source_fps or 30.0
        name = f"{height}p" if heights.count(height) == 1 else f"{height}p_{i}"
        gop = max(1, round(fps * seg))
        rungs.append(Rung(i, name, variant, width, height, framerate, gop, peak_kbps(variant, height)))
    return rungs


def _rung_options(spec: OutputSpec, rung: Rung) -> dict[str, Any]:
    """The encoder options of one rung, qualified with its output stream (`-crf:v:1 …`)."""
    variant = rung.variant
    # The single-file encoder settings (preset/CRF per quality, profile), then the ladder's own.
    opts = renditions._video_options(spec, variant)
    kbps = rung.peak_kbps
    opts.update({"g": rung.gop, "maxrate": f"{kbps}k", "bufsize": f"{2 * kbps}k"})
    if variant.codec is VideoCodec.h264:
        opts.update({"keyint_min": rung.gop, "sc_threshold": 0})
    elif variant.codec is VideoCodec.h265:
        opts["tag:v"] = "hvc1"  # fMP4 HLS: Apple players take hvc1, not hev1
        # Closed GOPs (segments start with IDR, not CRA) of a fixed length, no scene-cut keyframes.
        opts["x265-params"] = f"log-level=error:scenecut=0:open-gop=0:keyint={rung.gop}:min-keyint={rung.gop}"
    elif variant.codec is VideoCodec.vp9:
        opts["keyint_min"] = rung.gop
        if not variant.bitrate:
            opts["b:v"] = f"{kbps}k"  # libvpx: CRF with a bitrate is constrained quality, capped
    else:  # av1: SVT-AV1 caps its CRF at maxrate ("capped CRF"); -g is its intra period
        opts.pop("bufsize")
        if variant.bitrate:
            opts.pop("maxrate")  # SVT-AV1 refuses a maxrate with a target bitrate (VBR)
    suffix = f":v:{rung.index}"
    qualified: dict[str, Any] = {}
    for key, value in opts.items():
        stream_key = key[: -len(":v")] if key.endswith(":v") else key
        qualified[stream_key + suffix] = value
    return qualified


def rung_picture(video: Any, rung: Rung, meta: InputMetadata) -> Any:
    """The decoded (joined, clipped) source as one rung's encoder gets it: sized, at its frame rate, in
    yuv420p. Also the reference its quality is measured against (recast/media/measure.py)."""
    if rung.variant.fit is not Fit.contain:
        video = renditions.fitted(video, (rung.width, rung.height), rung.variant.fit)  # the box's shape
    elif (rung.width, rung.height) != (meta.width, meta.height):
        video = video.filter("scale", rung.width, rung.height)
    if rung.framerate:
        video = video.filter("fps", fps=rung.framerate)
    return video.filter("format", "yuv420p")


def ladder_plan(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    outdir: Path,
    threads: int = 0,
    *,
    parts: Sequence[tuple[Path, InputMetadata]] = (),
    clip: Clip | None = None,
    loudness: LoudnessPlan | None = None,
    captions: CaptionPlan | None = None,
    watermark_image: Path | None = None,
) -> LadderPlan:
    """The ffmpeg command encoding every rung of an hls/dash output from one decode, and packaging it.

    `parts` and `clip` as for renditions.encode_plan: the ladder is made from the joined, clipped timeline
    (renditions.source_streams), which is then split into the rungs. `loudness` normalizes the shared
    audio; `captions` burns one in before the split (tracks are added after: caption_tracks.add_to_hls).
    """
    if ":" in str(outdir):
        # The muxers take plain paths (they derive segment paths from them): no protocol prefix allowed.
        raise ValueError(f"package folder {outdir} must not contain ':'")
    joined = len(parts) > 1
    metas = [m for _, m in parts] if joined else [meta]
    for i, m in enumerate(metas):
        if not (m.width and m.height):
            which = f"inputs[{i}] has" if joined else "the input has"
            raise tools.MediaError(
                "no-video-stream", f"{which} no video stream; a {spec.type.value} output needs one"
            )
    assert meta.width and meta.height
    # A join is converted to one frame rate before the split; a single input keeps its own.
    join_fps = timeline.join_framerate(metas) if joined else None
    rungs = plan_rungs(spec, meta, join_fps or meta.framerate)
    seg = segment_duration(spec)
    audio_codec = channels = sample_rate = None
    if meta.audio_codec and spec.audio.enabled:
        audio_codec, channels, sample_rate = spec.audio_codec.value, spec.audio.channels, spec.sample_rate
    audio_format = (sample_rate, channels) if sample_rate and channels else None
    decoded, audio_stream = renditions.source_streams(
        src, meta, parts, clip, (meta.width, meta.height), join_fps, audio_format
    )
    if loudness is not None and audio_stream is not None:
        audio_stream = loudness.apply(audio_stream)
    if captions is not None:
        decoded = captions.burn(decoded)
    split = decoded.filter_multi_output("split", len(rungs)) if len(rungs) > 1 else None
    streams = []
    opts: dict[str, Any] = {
        "threads": threads,
        "protocol_whitelist": OUTPUT_PROTOCOLS,
        # A keyframe at every segment boundary, by time: the same instants in every rung.
        "force_key_frames": f"expr:gte(t,n_forced*{seg})",
    }
    # A watermark on every rung, sized for it: its margin is in pixels of the widest rung.
    marks = watermark.image_streams(watermark_image, len(rungs)) if spec.watermark and watermark_image else []
    widest = max(r.width for r in rungs)
    for rung in rungs:
        video = rung_picture(split.stream(rung.index) if split is not None else decoded, rung, meta)
        if marks and spec.watermark:
            mark = marks[rung.index]
            video = watermark.overlay(video, mark, spec.watermark, rung.width, rung.width / widest)
            video = video.filter("format", "yuv420p")
        streams.append(video)
        opts.update(_rung_options(spec, rung))
    if audio_stream is not None:
        streams.append(audio_stream)  # one rendition, shared by every rung
        opts.update(
            {
                "c:a": renditions.AUDIO_ENCODERS[spec.audio_codec],
                "ac": channels,
                "ar": sample_rate,
                "b:a": f"{spec.audio_bitrate_kbps}k",
            }
        )
    entry, target = package_options(spec, rungs, outdir, bool(audio_codec), opts)
    out = ffmpeg.output(*streams, target, format=spec.type.value, **opts)
    return LadderPlan(
        [tools.FFMPEG, *tools.GLOBAL_ARGS, *out.get_args()],
        rungs,
        entry,
        audio_codec,
        channels,
        sample_rate,
        seg,
        timeline.output_duration_s(meta.duration_ms, clip),
    )


def package_options(
    spec: OutputSpec, rungs: Sequence[Rung], outdir: Path, audio: bool, opts: dict[str, Any]
) -> tuple[str, str]:
    """The hls/dash muxer's options (into `opts`) for `rungs` (the first outputs' video streams, in
    order) and one shared audio stream after them when `audio`; returns (entry, muxer target). Shared
    by the whole-ladder encode and the packaging of a chunked ladder (ladder_chunks.py)."""
    n, seg = len(rungs), segment_duration(spec)
    if spec.type is OutputType.hls:
        entry = HLS_ENTRY
        group = ",agroup:audio" if audio else ""
        stream_map = [f"v:{r.index}{group},name:{r.name}" for r in rungs]
        if audio:
            stream_map.append("a:0,agroup:audio,name:audio")
        opts.update(
            {
                "hls_time": seg,
                "hls_playlist_type": "vod",
                "hls_segment_type": "fmp4",
                "hls_flags": "independent_segments",
                "hls_fmp4_init_filename": "init.mp4",
                "hls_segment_filename": str(outdir / "%v" / "segment_%05d.m4s"),
                "master_pl_name": HLS_ENTRY,
                "var_stream_map": " ".join(stream_map),
            }
        )
        target = str(outdir / "%v" / "index.m3u8")
    else:
        entry = DASH_ENTRY
        # One adaptation set per video codec (players switch only within one), one for the audio.
        by_codec: dict[VideoCodec, list[int]] = {}
        for r in rungs:
            by_codec.setdefault(r.variant.codec, []).append(r.index)
        sets = [f"id={i},streams={','.join(map(str, idx))}" for i, idx in enumerate(by_codec.values())]
        if audio:
            sets.append(f"id={len(sets)},streams={n}")
        opts.update(
            {
                "seg_duration": seg,
                "use_template": 1,
                "use_timeline": 1,
                # VP9 would default to WebM segments; fragmented MP4 for every codec keeps one layout.
                "dash_segment_type": "mp4",
                "adaptation_sets": " ".join(sets),
                "init_seg_name": "init-$RepresentationID$.m4s",
                "media_seg_name": "chunk-$RepresentationID$-$Number%05d$.m4s",
            }
        )
        target = str(outdir / DASH_ENTRY)
    return entry, target


# ---------------------------------------------------------------- reading a package -----------------------


_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def hls_attributes(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(text)}


@dataclass
class Variant:
    """A rung (or audio rendition) as a manifest describes it, with its segments."""

    uri: str  # HLS: its playlist; DASH: the representation id
    bandwidth: int
    codecs: str
    width: int | None
    height: int | None
    init: str | None  # the init segment, relative to the package folder
    segments: list[tuple[str, float]]  # (path relative to the package folder, seconds)


def _join(base: str, name: str) -> str:
    folder = base.rsplit("/", 1)[0] + "/" if "/" in base else ""
    return folder + name


def read_media_playlist(folder: Path, uri: str) -> tuple[str | None, list[tuple[str, float]]]:
    """An HLS rendition playlist: its init segment and (segment, duration) list, relative to `folder`."""
    init, segments, duration = None, [], None
    for line in _inside(folder, uri).read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            init = _join(uri, hls_attributes(line[len("#EXT-X-MAP:") :])["URI"])
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((_join(uri, line), duration))
            duration = None
    return init, segments


def read_hls(folder: Path) -> tuple[list[Variant], Variant | None]:
    """The video rungs of an HLS master playlist (in order) and its audio rendition, if any."""
    lines = _inside(folder, HLS_ENTRY).read_text().splitlines()
    rungs, audio = [], None
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = hls_attributes(line[len("#EXT-X-STREAM-INF:") :])
            if "RESOLUTION" not in attrs:
                continue  # the audio-only variant ffmpeg lists for the audio rendition
            width, _, height = attrs["RESOLUTION"].partition("x")
            uri = lines[i + 1].strip()
            init, segments = read_media_playlist(folder, uri)
            rungs.append(
                Variant(
                    uri,
                    int(attrs.get("BANDWIDTH", 0)),
                    attrs.get("CODECS", ""),
                    int(width),
                    int(height),
                    init,
                    segments,
                )
            )
        elif line.startswith("#EXT-X-MEDIA:"):
            attrs = hls_attributes(line[len("#EXT-X-MEDIA:") :])
            if attrs.get("TYPE") == "AUDIO" and "URI" in attrs:
                init, segments = read_media_playlist(folder, attrs["URI"])
                audio = Variant(attrs["URI"], 0, "", None, None, init, segments)
    return rungs, audio


MPD_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}


def _template(pattern: str, rep_id: str, number: int) -> str:
    def fill(match: re.Match[str]) -> str:
        name, fmt = match.group(1), match.group(2)
        if name == "RepresentationID":
            return rep_id
        if name == "Number":
            return (fmt or "%d") % number
        return match.group(0)

    return re.sub(r"\$(\w+)(%0\d+d)?\$", fill, pattern)


def read_dash(folder: Path) -> tuple[list[Variant], Variant | None]:
    """The video representations of an MPD (in order) and its audio one, with their segments."""
    root = ET.fromstring(_inside(folder, DASH_ENTRY).read_text())
    rungs, audio = [], None
    for aset in root.iterfind(".//mpd:AdaptationSet", MPD_NS):
        if aset.get("contentType") == "text":
            continue  # captions (caption_tracks.add_to_dash): one WebVTT file, no segments
        for rep in aset.iterfind("mpd:Representation", MPD_NS):
            tpl = rep.find("mpd:SegmentTemplate", MPD_NS)
            if tpl is None:
                tpl = aset.find("mpd:SegmentTemplate", MPD_NS)
            if tpl is None:
                raise tools.MediaError("output-mismatch", "the MPD has a representation without segments")
            rep_id = rep.get("id", "")
            scale = int(tpl.get("timescale", "1"))
            number = int(tpl.get("startNumber", "1"))
            segments = []
            for s in tpl.iterfind("mpd:SegmentTimeline/mpd:S", MPD_NS):
                for _ in range(int(s.get("r", "0")) + 1):
                    segments.append(
                        (_template(tpl.get("media", ""), rep_id, number), int(s.get("d", "0")) / scale)
                    )
                    number += 1
            init = _template(tpl.get("initialization", ""), rep_id, 0)
            width, height = rep.get("width"), rep.get("height")
            variant = Variant(
                rep_id,
                int(rep.get("bandwidth", "0")),
                rep.get("codecs", ""),
                int(width) if width else None,
                int(height) if height else None,
                init,
                segments,
            )
            kind = (
                aset.get("contentType") or (rep.get("mimeType") or aset.get("mimeType") or "").split("/")[0]
            )
            if kind == "video":
                rungs.append(variant)
            elif kind == "audio":
                audio = variant
    return rungs, audio


def _inside(folder: Path, name: str) -> Path:
    """`name` inside `folder`; a manifest naming anything outside it is refused, not followed."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise tools.MediaError("output-mismatch", f"the package names {name!r}, which it does not contain")
    return path


# ---------------------------------------------------------------- the check -------------------------------


@dataclass(frozen=True)
class PackageInfo:
    duration_s: float
    rungs: list[Variant]
    audio: dict[str, Any] | None  # ffprobe's audio stream of the audio rendition


async def first_segment(folder: Path, variant: Variant, scratch: Path) -> dict[str, Any]:
    """ffprobe of the variant's init segment followed by its first media segment: what a player
    starting that rung decodes."""
    if not variant.segments:
        raise tools.MediaError("output-mismatch", f"rung {variant.uri} has no segments")
    joined = scratch / f"probe-{re.sub(r'[^A-Za-z0-9]', '_', variant.uri)}.mp4"
    with joined.open("wb") as fh:
        for name in ([variant.init] if variant.init else []) + [variant.segments[0][0]]:
            fh.write(_inside(folder, name).read_bytes())
    try:
        return await probe.probe_raw(joined)
    finally:
        joined.unlink(missing_ok=True)


def _mismatch(message: str) -> tools.MediaError:
    return tools.MediaError("output-mismatch", message)


async def check_package(
    folder: Path, spec: OutputSpec, plan: LadderPlan, meta: InputMetadata, scratch: Path
) -> PackageInfo:
    """Refuse a package that is not what was asked: a rung missing or of the wrong size or codec,
    no BANDWIDTH, segments not aligned across rungs, audio missing, or a duration off the input's."""
    rungs, audio = (read_hls if spec.type is OutputType.hls else read_dash)(folder)
    if len(rungs) != len(plan.rungs):
        raise _mismatch(f"the manifest lists {len(rungs)} rungs, {len(plan.rungs)} were asked")
    want_s = plan.duration_s
    for got, rung in zip(rungs, plan.rungs, strict=True):
        label = f"rung {rung.index} ({rung.name})"
        if (got.width, got.height) != (rung.width, rung.height):
            raise _mismatch(
                f"{label}: the manifest says {got.width}x{got.height}, expected {rung.width}x{rung.height}"
            )
        prefix = CODECS_PREFIX[rung.variant.codec]
        if not got.codecs.startswith(prefix):
            raise _mismatch(f"{label}: the manifest's codecs are {got.codecs!r}, expected {prefix}…")
        if got.bandwidth <= 0:
            raise _mismatch(f"{label}: the manifest gives no bandwidth")
        total = sum(d for _, d in got.segments)
        if abs(total - want_s) > renditions.duration_tolerance_s(want_s):
            raise _mismatch(f"{label} lasts {total:.2f}s but the input lasts {want_s:.2f}s")
        data = await first_segment(folder, got, scratch)
        video = probe.first_stream(data, "video")
        want_codec = renditions.FFPROBE_CODEC[rung.variant.codec]
        if video is None or video.get("codec_name") != want_codec:
            raise _mismatch(f"{label}: its first segment is not {want_codec} video")
        if (video.get("width"), video.get("height")) != (rung.width, rung.height):
            raise _mismatch(
                f"{label}: its first segment is {video.get('width')}x{video.get('height')}, "
                f"expected {rung.width}x{rung.height}"
            )
    # Aligned: a player switching rungs at a segment boundary lands on a keyframe at the same instant.
    reference = [round(d, 2) for _, d in rungs[0].segments]
    for got in rungs[1:]:
        durations = [round(d, 2) for _, d in got.segments]
        if len(durations) != len(reference) or any(
            abs(a - b) > 0.05 for a, b in zip(durations, reference, strict=True)
        ):
            raise _mismatch(f"the segments of {got.uri} are not aligned with those of {rungs[0].uri}")
    audio_stream = None
    if plan.audio_codec:
        if audio is None:
            raise _mismatch("the package has no audio rendition")
        audio_stream = probe.first_stream(await first_segment(folder, audio, scratch), "audio")
        if audio_stream is None or audio_stream.get("codec_name") != plan.audio_codec:
            raise _mismatch(f"the audio rendition is not {plan.audio_codec}")
        if (
            audio_stream.get("channels") != plan.audio_channels
            or int(audio_stream.get("sample_rate") or 0) != plan.sample_rate
        ):
            raise _mismatch(
                f"the audio rendition is {audio_stream.get('channels')} channels at {audio_stream.get('sample_rate')} Hz, "
                f"expected {plan.audio_channels} at {plan.sample_rate}"
            )
    elif audio is not None:
        raise _mismatch("the package has audio, none was asked")
    return PackageInfo(sum(d for _, d in rungs[0].segments), rungs, audio_stream)
