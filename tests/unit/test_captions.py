"""Captions: SRT/WebVTT read and converted, hostile files refused with `invalid-captions`; the tracks
outputs carry (ffprobe: mov_text / webvtt, language), HLS's SUBTITLES group and DASH's text adaptation
set (parsed), burn-in (pixels against an output without it); fetching under the SSRF rules and from
uploads; the 400s of bad combinations; the price."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.core import pricing
from recast.core.captions import CAPTION_MAX_BYTES, CAPTION_MAX_CUES
from recast.core.requests import JobCreate, Priority
from recast.core.specs import OutputSpec
from recast.infra import config, uploads
from recast.media import captions, streaming
from recast.media.tools import MediaError
from tests.helpers import difference, ffprobe, make_clip, probe, serving
from tests.helpers.finishing import frame_at, run_output

EN_VTT = """WEBVTT - English

STYLE
::cue { color: red; font-size: 400% }

NOTE a comment, not a cue

intro
00:00.300 --> 00:01.500 line:0 position:10%
<c.loud>Hello</c> <b>world</b> & <v Bob>friends</v>

00:01.500 --> 00:02.000
Second line
"""
PT_SRT = """1
00:00:00,300 --> 00:00:01,500
<font color="#ff0000">Olá</font> mundo

2
00:00:01,500 --> 00:00:05,000
Até logo
"""


def _srt(*cues: str) -> bytes:
    return "\n\n".join(cues).encode()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("captions") / "clip.mp4", seconds=2, size="320x240", rate=15)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("caption-files")
    (folder / "en.vtt").write_text(EN_VTT)
    (folder / "pt.srt").write_text(PT_SRT)
    (folder / "huge.srt").write_bytes(_srt("1\n00:00:00,000 --> 00:00:01,000\nx") + b" " * CAPTION_MAX_BYTES)
    return folder


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    settings = config.Settings(
        data_dir=tmp_path,
        scratch_dir=tmp_path / "scratch",
        storage_url=f"fs://{tmp_path}/s",
        url_allowlist=("127.0.0.1/32",),  # the file server is on loopback; a test below refuses it
    )
    deps = Deps.from_settings(settings)
    yield deps
    deps.probes.close()


def _tracks(base: str) -> list[dict[str, Any]]:
    return [
        {"url": f"{base}/en.vtt", "language": "en", "label": "English"},
        {"url": f"{base}/pt.srt", "language": "pt-BR"},
    ]


# ---------------------------------------------------------------- reading files ---------------------------


def test_srt_and_webvtt_become_plain_webvtt() -> None:
    vtt = captions.parse(EN_VTT.encode(), "en")
    assert [(c.start, c.end) for c in vtt] == [(0.3, 1.5), (1.5, 2.0)]
    # Classes, voices and the STYLE block are dropped; <b> stays; a bare & is escaped.
    assert vtt[0].text == "Hello <b>world</b> &amp; friends"
    srt = captions.parse(("\ufeff" + PT_SRT.replace("\n", "\r\n")).encode(), "pt")
    assert [c.text for c in srt] == ["Olá mundo", "Até logo"]
    out = captions.webvtt(captions.cut(srt, 1.0, 1.0))
    assert out.startswith("WEBVTT\n") and "00:00:00.000 --> 00:00:00.500\nOlá mundo" in out
    assert "00:00:00.500 --> 00:00:01.000\nAté logo" in out


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"WEBVTT\n\n" + b"x" * (CAPTION_MAX_BYTES + 1), "larger than 1024 KiB"),
        (b"\x00\x01\x02binary\x00" * 10, "binary"),
        (b"1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n", "not UTF-8"),
        (
            b"[Script Info]\nTitle: x\n\n[Events]\nDialogue: 0,0:00:00.00,0:00:01.00,Default,,0,0,0,,Hi",
            "ASS/SSA",
        ),
        (_srt("1\n00:00:00,000 --> 00:00:01,000\n{\\pos(10,10)\\fs400}Hi"), "override tags"),
        (_srt("1\n999:00:00,000 --> 999:00:01,000\nHi"), "past the 24 h limit"),
        (_srt("1\n00:00:02,000 --> 00:00:01,000\nHi"), "before it starts"),
        (_srt("1\n00:00:01 --> 00:00:02\nHi"), "malformed timing line"),
        (_srt("1\n00:75:00,000 --> 00:76:00,000\nHi"), "invalid time"),
        (b"WEBVTT\n\nNOTE only a comment\n", "no cues"),
        (b"just some text\nnothing more\n", "neither SRT nor WebVTT"),
        (b"WEBVTTX\n\n00:00.000 --> 00:01.000\nHi\n", "WebVTT header line is malformed"),
        (_srt("1\n00:00:00,000 --> 00:00:01,000\n" + "x" * 1001), "1001 characters"),
        (_srt("1\n00:00:00,000 --> 00:00:01,000\n" + "x\n" * 11), "11 lines"),
        (
            _srt(*(f"{i}\n00:00:00,000 --> 00:00:01,000\nx" for i in range(CAPTION_MAX_CUES + 1))),
            f"more than {CAPTION_MAX_CUES} cues",
        ),
    ],
)
def test_hostile_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(MediaError) as refused:
        captions.parse(data, "captions[0] (en)")
    assert refused.value.code == "invalid-captions"
    assert message in str(refused.value) and str(refused.value).startswith("captions[0] (en): ")


# ---------------------------------------------------------------- outputs ---------------------------------


@pytest.mark.parametrize(
    ("kind", "codec", "title"),
    [
        ("mp4", "mov_text", "handler_name"),
        ("mov", "mov_text", "handler_name"),
        ("mkv", "webvtt", "title"),
        ("webm", "webvtt", "title"),
    ],
)
def test_single_files_carry_a_track_per_language(
    deps: Deps, clip: Path, files: Path, kind: str, codec: str, title: str
) -> None:
    spec = {"type": kind, "video": {"codec": "vp9" if kind == "webm" else "h264"}}
    with serving(files) as server:
        result, stored = run_output(deps, clip, spec, f"job_{kind}", _tracks(server.url))
    subs = [s for s in ffprobe(stored)["streams"] if s["codec_type"] == "subtitle"]
    assert [s["codec_name"] for s in subs] == [codec, codec]
    assert [s["tags"]["language"] for s in subs] == ["eng", "por"]
    assert [s["tags"][title] for s in subs] == ["English", "pt-BR"]
    assert result.captions is not None and result.captions.tracks == ["en", "pt-BR"]
    assert result.captions.burned_in is None


def test_hls_gets_a_subtitles_group(deps: Deps, clip: Path, files: Path) -> None:
    spec = {
        "type": "hls",
        "video": [{"codec": "h264"}, {"codec": "h264", "width": 160}],
        "segments": {"duration": 1},
    }
    with serving(files) as server:
        result, master = run_output(deps, clip, spec, "job_hls", _tracks(server.url))
    package = master.parent
    text = master.read_text()
    media = [line for line in text.splitlines() if line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    attrs = [streaming.hls_attributes(line.split(":", 1)[1]) for line in media]
    assert [(a["LANGUAGE"], a["NAME"], a["GROUP-ID"]) for a in attrs] == [
        ("en", "English", "subs"),
        ("pt-BR", "pt-BR", "subs"),
    ]
    variants = [line for line in text.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    assert variants and all('SUBTITLES="subs"' in line for line in variants)
    rungs, _ = streaming.read_hls(package)  # the rungs read as before
    assert len(rungs) == 2
    init, segments = streaming.read_media_playlist(package, attrs[0]["URI"])
    # One WebVTT segment per video segment, at the same boundaries.
    assert init is None and [d for _, d in segments] == [d for _, d in rungs[0].segments]
    first = (package / segments[0][0]).read_text()
    assert first.startswith("WEBVTT\nX-TIMESTAMP-MAP=") and "Hello <b>world</b>" in first
    assert {f.name for f in result.files} >= {attrs[0]["URI"], attrs[1]["URI"], segments[0][0]}


def test_dash_gets_a_text_adaptation_set(deps: Deps, clip: Path, files: Path) -> None:
    with serving(files) as server:
        _, mpd = run_output(
            deps, clip, {"type": "dash", "video": {"codec": "h264"}}, "job_dash", _tracks(server.url)
        )
    root = ET.fromstring(mpd.read_text())
    ns = streaming.MPD_NS
    texts = [s for s in root.iterfind(".//mpd:AdaptationSet", ns) if s.get("contentType") == "text"]
    assert [(s.get("lang"), s.get("mimeType")) for s in texts] == [("en", "text/vtt"), ("pt-BR", "text/vtt")]
    assert [s.findtext("mpd:Label", namespaces=ns) for s in texts] == ["English", "pt-BR"]
    for aset in texts:
        url = aset.findtext("mpd:Representation/mpd:BaseURL", namespaces=ns)
        assert url and (mpd.parent / url).read_text().startswith("WEBVTT")
    rungs, audio = streaming.read_dash(mpd.parent)
    assert len(rungs) == 1 and audio is not None


def test_burn_in_renders_the_captions_into_the_picture(
    deps: Deps, clip: Path, files: Path, tmp_path: Path
) -> None:
    spec: dict[str, Any] = {"type": "mp4", "video": {"codec": "h264"}}
    with serving(files) as server:
        _, plain = run_output(deps, clip, spec, "job_plain", _tracks(server.url))
        result, burned = run_output(deps, clip, {**spec, "burn_in": "en"}, "job_burn", _tracks(server.url))
    assert result.captions is not None and result.captions.burned_in == "en" and result.captions.tracks == []
    assert not [s for s in ffprobe(burned)["streams"] if s["codec_type"] == "subtitle"]
    # During the first cue (0.3–1.5 s) the bottom of the frame changes, the top does not.
    with_text, without = frame_at(burned, 1.0, tmp_path / "a.png"), frame_at(plain, 1.0, tmp_path / "b.png")
    w, h = with_text.size
    bottom, top = (0, h * 2 // 3, w, h), (0, 0, w, h // 3)
    assert difference(with_text.crop(bottom), without.crop(bottom)) > 5
    assert difference(with_text.crop(top), without.crop(top)) < 2


def test_a_ladder_burns_the_captions_into_every_rung(
    deps: Deps, clip: Path, files: Path, tmp_path: Path
) -> None:
    spec = {"type": "hls", "video": [{"codec": "h264"}, {"codec": "h264", "width": 160}], "burn_in": "pt-BR"}
    with serving(files) as server:
        result, master = run_output(deps, clip, spec, "job_hls_burn", _tracks(server.url))
    assert result.captions is not None and result.captions.burned_in == "pt-BR"
    assert "SUBTITLES" not in master.read_text() and not (master.parent / "captions").exists()
    rungs, _ = streaming.read_hls(master.parent)
    for rung in rungs:
        # The rung's first segment decoded at 1 s (during "Olá mundo") against the same time of the input.
        joined = tmp_path / f"{rung.uri.replace('/', '_')}.mp4"
        joined.write_bytes(
            b"".join((master.parent / n).read_bytes() for n in [rung.init or "", rung.segments[0][0]])
        )
        frame = frame_at(joined, 1.0, tmp_path / "burned.png")
        source = frame_at(clip, 1.0, tmp_path / "source.png").resize(frame.size)
        w, h = frame.size
        # Where the line of text goes (bottom centre), and a box of the same size above it.
        text = (w * 3 // 10, h * 17 // 20, w * 7 // 10, h)
        above = (w * 3 // 10, h * 8 // 20, w * 7 // 10, h * 11 // 20)
        changed = difference(frame.crop(text), source.crop(text))
        assert changed > difference(frame.crop(above), source.crop(above)) + 5


def test_caption_urls_obey_the_ssrf_rules(tmp_path: Path, clip: Path, files: Path) -> None:
    settings = config.Settings(
        data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s"
    )
    deps = Deps.from_settings(settings)  # no allowlist: loopback is forbidden
    try:
        with serving(files) as server, pytest.raises(ApplicationError) as refused:
            run_output(deps, clip, {"type": "mp4", "video": {"codec": "h264"}}, "job_x", _tracks(server.url))
        assert refused.value.type == "forbidden-url" and "captions[0] (en): the URL is refused" in str(
            refused.value
        )
    finally:
        deps.probes.close()


def test_a_huge_file_is_refused_while_it_downloads(deps: Deps, clip: Path, files: Path) -> None:
    track = {"language": "en"}
    with serving(files) as server, pytest.raises(ApplicationError) as refused:
        run_output(
            deps,
            clip,
            {"type": "mkv", "video": {"codec": "h264"}},
            "job_h",
            [{**track, "url": f"{server.url}/huge.srt"}],
        )
    assert refused.value.type == "invalid-captions" and "larger than" in str(refused.value)


def test_captions_from_an_upload(deps: Deps, clip: Path) -> None:
    upload_id = "up_" + "c" * 24
    key = f"acme/uploads/{upload_id}/pt.srt"
    now = datetime.now(UTC)
    asyncio.run(deps.storage.write_bytes(key, PT_SRT.encode()))
    manifest = uploads.UploadManifest(
        upload_id=upload_id,
        organization="acme",
        filename="pt.srt",
        size=len(PT_SRT.encode()),
        content_type="application/x-subrip",
        key=key,
        created_at=now,
        expires_at=now,
    )
    asyncio.run(uploads.save_manifest(deps.storage, manifest))
    track = {"url": f"upload://{upload_id}", "language": "pt"}
    _, stored = run_output(deps, clip, {"type": "mp4", "video": {"codec": "h264"}}, "job_u", [track])
    subs = [s for s in ffprobe(stored)["streams"] if s["codec_type"] == "subtitle"]
    assert [s["tags"]["language"] for s in subs] == ["por"]


# ---------------------------------------------------------------- the request -----------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "outputs": [{"type": "mp4", "video": {"codec": "h264"}, "burn_in": "fr"}],
                "captions": [{"url": "https://x.example/en.vtt", "language": "en"}],
            },
            "'fr' names no caption file; captions: en",
        ),
        (
            {"outputs": [{"type": "mp3", "burn_in": "en"}]},
            "burn_in is only for video outputs (mp4, mov, mkv, webm, hls, dash), not mp3",
        ),
        (
            {
                "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
                "captions": [
                    {"url": "https://x.example/a.vtt", "language": "en"},
                    {"url": "https://x.example/b.vtt", "language": "en"},
                ],
            },
            "language en is given twice",
        ),
        (
            {
                "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
                "captions": [{"url": "file:///etc/passwd", "language": "en"}],
            },
            "http://, https://, upload://",
        ),
        (
            {
                "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
                "captions": [{"url": "https://x.example/a.vtt", "language": "English"}],
            },
            "not a language tag",
        ),
        (
            {
                "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
                "captions": [
                    {"url": "https://x.example/a.vtt", "language": "en", "label": 'A", DEFAULT=YES'}
                ],
            },
            "without quotes",
        ),
    ],
)
def test_bad_combinations_are_refused_naming_what_is_allowed(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        JobCreate.model_validate({"input_url": "https://x.example/in.mp4", **body})
    assert message in str(refused.value)


def test_burn_in_is_priced_and_tracks_are_free(clip: Path) -> None:
    meta = probe(clip)
    plain = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
    burned = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}, "burn_in": "en"})
    extra = pricing.estimate([burned], meta, Priority.standard) - pricing.estimate(
        [plain], meta, Priority.standard
    )
    assert extra == pytest.approx(meta.duration_ms / 60_000 * pricing.BURN_IN_PER_MINUTE, abs=1e-4)
