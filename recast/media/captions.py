"""Caption files: SRT or WebVTT read, checked and rewritten as plain WebVTT, our own small parser
instead of handing the file to ffmpeg.

Why our own: caption files are hostile input like media, and ffmpeg's demuxers are lenient (they skip
what they cannot read, accept absurd timestamps, and pass ASS override tags like `{\\pos}` or
`{\\fs200}` through to libass when burned in). Reading the file ourselves gives a clear error for each
kind of bad file and a normalized WebVTT of cue times and text only — the one thing every output
(mov_text, WebVTT tracks, HLS/DASH renditions, burn-in) is made from. Kept: cue times, text, and the
`<b>`, `<i>`, `<u>` tags; dropped: every other tag (SRT `<font>`, WebVTT classes and voices), WebVTT
STYLE, REGION and NOTE blocks and cue settings (positioning is the player's job).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recast.core.captions import (
    CAPTION_MAX_BYTES,
    CAPTION_MAX_CUE_CHARS,
    CAPTION_MAX_CUES,
    CAPTION_MAX_SECONDS,
    CaptionTrack,
)
from recast.media.tools import MediaError

CODE = "invalid-captions"
MAX_CUE_LINES = 10
_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_KEPT_TAG = re.compile(r"^</?[biu]>$")
_TAG = re.compile(r"<[^<>\n]{0,200}>")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # one or more lines, only <b>, <i>, <u> tags


@dataclass(frozen=True)
class CaptionFile:
    """A job caption file, checked and converted, on this worker's disk for one output."""

    track: CaptionTrack
    path: Path  # normalized WebVTT
    cues: int


def _fail(what: str, message: str) -> MediaError:
    return MediaError(CODE, f"{what}: {message}")


def decode(data: bytes, what: str) -> str:
    """The file's text: UTF-8 (a BOM allowed), size-limited, not binary."""
    if len(data) > CAPTION_MAX_BYTES:
        raise _fail(what, f"the file is larger than {CAPTION_MAX_BYTES // 1024} KiB")
    if b"\x00" in data[:65536]:
        raise _fail(what, "the file is binary, not SRT or WebVTT text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(what, f"the file is not UTF-8 text (byte {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _seconds(groups: Sequence[str | None], what: str, number: int) -> float:
    hours, minutes, seconds, millis = groups
    if int(minutes or 0) >= 60 or int(seconds or 0) >= 60:
        raise _fail(what, f"cue {number} has an invalid time (minutes and seconds are 0–59)")
    return (
        int(hours or 0) * 3600
        + int(minutes or 0) * 60
        + int(seconds or 0)
        + int((millis or "0").ljust(3, "0")) / 1000
    )


def _clean_text(lines: list[str], what: str, number: int) -> str:
    if len(lines) > MAX_CUE_LINES:
        raise _fail(what, f"cue {number} has {len(lines)} lines; at most {MAX_CUE_LINES}")
    text = "\n".join(line.strip() for line in lines)
    if len(text) > CAPTION_MAX_CUE_CHARS:
        raise _fail(what, f"cue {number} has {len(text)} characters; at most {CAPTION_MAX_CUE_CHARS}")
    if re.search(r"\{\\", text):
        raise _fail(
            what, f"cue {number} has ASS style override tags ({{\\…}}); only plain text and <b>, <i>, <u>"
        )
    text = _TAG.sub(lambda m: m.group(0) if _KEPT_TAG.match(m.group(0)) else "", text)
    # A stray `<`, `>` or `&` is text, and WebVTT needs it escaped; a kept tag stays a tag.
    parts = re.split(r"(</?[biu]>)", text)
    return "".join(p if _KEPT_TAG.match(p) else _escape(p) for p in parts)


def _escape(text: str) -> str:
    text = re.sub(r"&(?!(?:amp|lt|gt|lrm|rlm|nbsp|#\d+|#x[0-9a-fA-F]+);)", "&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def parse(data: bytes, what: str) -> list[Cue]:
    """The cues of an SRT or WebVTT file; MediaError `invalid-captions` naming the problem otherwise."""
    text = decode(data, what)
    head = text.lstrip()[:200]
    if head.startswith("[Script Info]") or "\n[Events]" in text[:20000]:
        raise _fail(what, "ASS/SSA files are not accepted; give SRT or WebVTT")
    vtt = head.startswith("WEBVTT")
    blocks = [b for b in re.split(r"\n[ \t]*\n", text.strip("\n")) if b.strip()]
    if vtt:
        first = blocks.pop(0).split("\n")[0] if blocks else ""
        if not re.match(r"^WEBVTT(?:[ \t].*)?$", first):
            raise _fail(what, "the WebVTT header line is malformed")
    cues: list[Cue] = []
    for block in blocks:
        lines = block.split("\n")
        if vtt and re.match(r"^(NOTE|STYLE|REGION)(?:[ \t]|$)", lines[0]):
            continue  # comments, CSS and regions: not carried (see the module docstring)
        timing = next((i for i, line in enumerate(lines[:2]) if "-->" in line), None)
        number = len(cues) + 1
        if timing is None:
            kind = "WebVTT" if vtt else "SRT"
            if not cues and not vtt:
                raise _fail(what, "the file is neither SRT nor WebVTT (no cue timing line)")
            raise _fail(what, f"cue {number} has no timing line ({kind}: `00:00:01,000 --> 00:00:02,000`)")
        if not vtt and timing == 1 and not lines[0].strip().isdigit():
            raise _fail(what, f"cue {number}: an SRT cue starts with its number, not {lines[0][:40]!r}")
        match = _TIMING.match(lines[timing])
        if match is None:
            raise _fail(what, f"cue {number} has a malformed timing line: {lines[timing][:60]!r}")
        start = _seconds(match.groups()[:4], what, number)
        end = _seconds(match.groups()[4:], what, number)
        if end > CAPTION_MAX_SECONDS:
            raise _fail(
                what, f"cue {number} ends at {end:.0f} s, past the {CAPTION_MAX_SECONDS // 3600} h limit"
            )
        if end <= start:
            raise _fail(what, f"cue {number} ends ({end:.3f} s) before it starts ({start:.3f} s)")
        body = _clean_text(lines[timing + 1 :], what, number)
        if body.strip():
            cues.append(Cue(start, end, body))
        if len(cues) > CAPTION_MAX_CUES:
            raise _fail(what, f"more than {CAPTION_MAX_CUES} cues")
    if not cues:
        raise _fail(what, "the file has no cues")
    return sorted(cues, key=lambda c: (c.start, c.end))


def cut(cues: Sequence[Cue], start: float, duration: float) -> list[Cue]:
    """The cues of the output's stretch [start, start + duration) of the timeline, moved to start at 0."""
    kept = []
    for cue in cues:
        a, b = max(cue.start, start) - start, min(cue.end, start + duration) - start
        if b - a > 0.001:
            kept.append(Cue(round(a, 3), round(b, 3), cue.text))
    return kept


def timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def webvtt(cues: Sequence[Cue], header: str = "") -> str:
    """A WebVTT file of `cues` (`header`: extra header lines, e.g. HLS's X-TIMESTAMP-MAP)."""
    out = ["WEBVTT" + (f"\n{header}" if header else ""), ""]
    for cue in cues:
        out += [f"{timestamp(cue.start)} --> {timestamp(cue.end)}", cue.text, ""]
    return "\n".join(out)
