"""How an output carries the job's captions (recast/media/captions.py made them plain WebVTT files):
a `mov_text` track in MP4/MOV, a WebVTT track in MKV/WebM, a SUBTITLES group in an HLS master
playlist, a text adaptation set in a DASH MPD, or `burn_in` rendered into the picture (libass, through
ffmpeg's `subtitles` filter). The check a finished output must pass for them is here too.

HLS and DASH captions are written by us next to the package ffmpeg made, not by ffmpeg's muxers:
ffmpeg's hls muxer can segment a WebVTT stream but not alongside fMP4 rungs in one var_stream_map
reliably, and its dash muxer takes no text streams at all. WebVTT sidecars are what players expect:
HLS segments cut at the video's own segment boundaries, DASH one WebVTT file per language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import ffmpeg

from recast.core.captions import CaptionsReport
from recast.core.formats import OutputType
from recast.core.specs import OutputSpec
from recast.media import captions
from recast.media.captions import CaptionFile
from recast.media.probe import first_stream
from recast.media.tools import MediaError

# The subtitle codec each single-file container carries.
TRACK_CODECS: dict[OutputType, str] = {
    OutputType.mp4: "mov_text",
    OutputType.mov: "mov_text",
    OutputType.mkv: "webvtt",
    OutputType.webm: "webvtt",
}
CAPTION_INPUT = {"format": "webvtt", "protocol_whitelist": "file", "format_whitelist": "webvtt"}
HLS_GROUP = "subs"
# fMP4 rungs start at media time 0: cue times map to it one to one (RFC 8216 §3.5).
HLS_TIMESTAMP_MAP = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"


@dataclass(frozen=True)
class CaptionPlan:
    """The captions of one output: burned into the picture, or carried as tracks."""

    files: list[CaptionFile]
    burn_in: str | None  # the language rendered into the picture

    @classmethod
    def for_output(cls, spec: OutputSpec, files: Sequence[CaptionFile]) -> CaptionPlan | None:
        if not files or not spec.video:
            return None
        return cls(list(files), spec.burn_in)

    @property
    def tracks(self) -> list[CaptionFile]:
        return [] if self.burn_in else self.files

    def burn(self, video: Any) -> Any:
        """The video stream with the burn_in captions rendered on it (at the output's frame size, so the
        text is sized for what is watched)."""
        if not self.burn_in:
            return video
        file = next(f for f in self.files if f.track.language == self.burn_in)
        return video.filter("subtitles", filename=str(file.path), charenc="UTF-8")

    def track_streams(self, spec: OutputSpec, first_index: int) -> tuple[list[Any], dict[str, Any]]:
        """Single-file outputs: the caption streams to map and their options (codec, language, title);
        `first_index` is the output index of the first caption stream among all the streams."""
        if not self.tracks:
            return [], {}
        streams, opts = [], {"c:s": TRACK_CODECS[spec.type]}
        for n, file in enumerate(self.tracks):
            streams.append(ffmpeg.input(f"file:{file.path}", **CAPTION_INPUT)["0"])
            # Two spellings of the same stream (`s:s:n`, `s:index`): one option key each, as a dict needs.
            opts[f"metadata:s:s:{n}"] = f"language={file.track.iso639_2}"
            title = "handler_name" if spec.type in (OutputType.mp4, OutputType.mov) else "title"
            opts[f"metadata:s:{first_index + n}"] = f"{title}={file.track.name}"
        return streams, opts

    def report(self) -> CaptionsReport:
        return CaptionsReport(tracks=[f.track.language for f in self.tracks], burned_in=self.burn_in)


def check_tracks(data: dict[str, Any], spec: OutputSpec, plan: CaptionPlan | None) -> None:
    """A single-file output carries exactly its caption tracks, each its codec and language."""
    subs = [s for s in data.get("streams", []) if s.get("codec_type") == "subtitle"]
    want = plan.tracks if plan else []
    if len(subs) != len(want):
        raise MediaError(
            "output-mismatch", f"the output has {len(subs)} caption tracks, {len(want)} were asked"
        )
    for stream, file in zip(subs, want, strict=True):
        codec = TRACK_CODECS[spec.type]
        language = (stream.get("tags") or {}).get("language")
        if stream.get("codec_name") != codec or language != file.track.iso639_2:
            raise MediaError(
                "output-mismatch",
                f"caption track {file.track.language}: expected {codec} tagged {file.track.iso639_2}, "
                f"got {stream.get('codec_name')} tagged {language}",
            )
    if first_stream(data, "video") is None and want:
        raise MediaError("output-mismatch", "captions were asked on an output without video")


# ---------------------------------------------------------------- hls / dash ------------------------------


def _folder_name(file: CaptionFile) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "_", file.track.language)


def add_to_hls(package: Path, master: str, boundaries: Sequence[float], files: Sequence[CaptionFile]) -> None:
    """Write each language's segmented WebVTT rendition (cut at `boundaries`, the video segments'
    durations) and list them as a SUBTITLES group every variant of the master playlist refers to."""
    media_lines = []
    for file in files:
        folder = package / "captions" / _folder_name(file)
        folder.mkdir(parents=True, exist_ok=True)
        cues = captions.parse(file.path.read_bytes(), file.track.language)
        lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{math.ceil(max(boundaries))}"]
        lines += ["#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MEDIA-SEQUENCE:0"]
        start = 0.0
        for n, length in enumerate(boundaries):
            name = f"segment_{n:05d}.vtt"
            inside = [c for c in cues if c.end > start and c.start < start + length]
            (folder / name).write_text(captions.webvtt(inside, HLS_TIMESTAMP_MAP))
            lines += [f"#EXTINF:{length:.6f},", name]
            start += length
        lines.append("#EXT-X-ENDLIST")
        (folder / "index.m3u8").write_text("\n".join(lines) + "\n")
        uri = f"captions/{_folder_name(file)}/index.m3u8"
        media_lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{HLS_GROUP}",NAME="{file.track.name}",'
            f'LANGUAGE="{file.track.language}",DEFAULT=NO,AUTOSELECT=YES,'
            f'URI="{uri}"'
        )
    path = package / master
    out: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            if media_lines:
                out += media_lines
                media_lines = []
            line += f',SUBTITLES="{HLS_GROUP}"'
        out.append(line)
    path.write_text("\n".join(out) + "\n")


def add_to_dash(package: Path, mpd: str, files: Sequence[CaptionFile]) -> None:
    """Write each language as one WebVTT file and add a text adaptation set for it to the MPD."""
    path = package / mpd
    text = path.read_text()
    next_id = len(re.findall(r"<AdaptationSet\b", text))
    sets = []
    for n, file in enumerate(files):
        name = f"captions/{_folder_name(file)}.vtt"
        (package / "captions").mkdir(exist_ok=True)
        (package / name).write_bytes(file.path.read_bytes())
        lang, label = quoteattr(file.track.language), file.track.name
        sets.append(
            f'\t\t<AdaptationSet id="{next_id + n}" contentType="text" mimeType="text/vtt" lang={lang}>\n'
            f'\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/>\n'
            f"\t\t\t<Label>{label}</Label>\n"
            f'\t\t\t<Representation id="caption_{_folder_name(file)}" bandwidth="256">\n'
            f"\t\t\t\t<BaseURL>{name}</BaseURL>\n"
            "\t\t\t</Representation>\n"
            "\t\t</AdaptationSet>\n"
        )
    if "</Period>" not in text:
        raise MediaError("output-mismatch", "the MPD has no Period to add captions to")
    # The MPD's own `\t</Period>` indentation stays in front of the first inserted set.
    path.write_text(text.replace("</Period>", "".join(sets).lstrip("\t") + "\t</Period>", 1))


def add_package_tracks(
    package: Path, spec: OutputSpec, entry: str, rungs: Sequence[Any], plan: CaptionPlan | None
) -> None:
    """Add the caption renditions to a checked hls/dash package (`rungs`: its video variants as
    streaming.read_hls gives them, whose segment boundaries the HLS captions follow), then check them."""
    if plan is None or not plan.tracks:
        return
    if spec.type is OutputType.hls:
        add_to_hls(package, entry, [d for _, d in rungs[0].segments], plan.tracks)
    else:
        add_to_dash(package, entry, plan.tracks)
    check_package(package, spec, entry, plan)


def check_package(package: Path, spec: OutputSpec, entry: str, plan: CaptionPlan | None) -> None:
    """The manifest lists every caption rendition, and each file it names is there."""
    want = plan.tracks if plan else []
    text = (package / entry).read_text()
    if spec.type is OutputType.hls:
        listed = re.findall(r'#EXT-X-MEDIA:TYPE=SUBTITLES,.*?LANGUAGE="([^"]+)".*?URI="([^"]+)"', text)
    else:
        listed = re.findall(r'contentType="text"[^>]*lang="([^"]+)"[\s\S]*?<BaseURL>([^<]+)</BaseURL>', text)
    if [lang for lang, _ in listed] != [f.track.language for f in want]:
        raise MediaError("output-mismatch", f"the manifest lists captions {listed}, expected {len(want)}")
    for _, uri in listed:
        if not (package / uri).is_file():
            raise MediaError("output-mismatch", f"the manifest names {uri}, which the package lacks")
