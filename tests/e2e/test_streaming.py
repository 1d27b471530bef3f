"""HLS/DASH ladders end to end: the package is fetched the way a player fetches it — the master
playlist / MPD from the download URL, then rendition playlists and segments by their relative URIs
under the same signed token — and checked with a plain parser and ffprobe, not with Recast's own code.
"""

from __future__ import annotations

import json
import math
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Api, ffprobe, make_clip, stream, upload_form

SEGMENT_S = 1
CLIP_S = 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("ladder") / "ladder.mp4", seconds=CLIP_S, size="640x360")


def attributes(line: str) -> dict[str, str]:
    """The attribute list of an HLS tag line (`#TAG:A=1,B="x,y"`)."""
    out, rest = {}, line.split(":", 1)[1]
    while rest:
        key, _, rest = rest.partition("=")
        if rest.startswith('"'):
            value, _, rest = rest[1:].partition('"')
            rest = rest.removeprefix(",")
        else:
            value, _, rest = rest.partition(",")
        out[key.strip()] = value
    return out


def media_playlist(text: str) -> tuple[str, list[tuple[float, str]]]:
    """(init segment URI, [(duration, segment URI)]) of an HLS media playlist."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-ENDLIST" in lines
    init = next(attributes(x)["URI"] for x in lines if x.startswith("#EXT-X-MAP:"))
    segments = [
        (float(x.split(":", 1)[1].split(",")[0]), lines[i + 1])
        for i, x in enumerate(lines)
        if x.startswith("#EXTINF:")
    ]
    return init, segments


def fetch(client: httpx.Client, url: str) -> bytes:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.text[:200])
    return resp.content


def probe_segment(client: httpx.Client, init_url: str, segment_url: str, dest: Path) -> dict[str, Any]:
    """What a player decodes when it starts a rung at this segment: init segment + media segment."""
    dest.write_bytes(fetch(client, init_url) + fetch(client, segment_url))
    data = ffprobe(dest)
    first = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "0",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "packet=pts_time,flags",
            "-of",
            "json",
            str(dest),
        ],
        check=True,
        capture_output=True,
    ).stdout
    data["first_packet"] = json.loads(first)["packets"][0]
    return data


def link(api: Api, job: dict[str, Any], index: int = 0) -> dict[str, Any]:
    out = job["outputs"][index]
    resp = api.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


# ---------------------------------------------------------------- HLS --------------------------------------


def test_hls_ladder(api: Api, clip: Path, tmp_path: Path) -> None:
    rungs = [
        {"codec": "h264", "height": 360},
        {"codec": "h264", "height": 240},
        {"codec": "h265", "height": 180},
    ]
    spec = {"type": "hls", "video": rungs, "segments": {"duration": SEGMENT_S}}
    job = api.wait(api.submit(clip, [spec])["id"])
    assert job["status"] == "completed", job
    out = job["outputs"][0]
    assert (out["content_type"], out["filename"]) == ("application/vnd.apple.mpegurl", "master.m3u8")
    assert (out["width"], out["height"]) == (640, 360)
    assert out["audio"]["codec"] == "aac"
    names = {f["name"] for f in out["files"]}
    assert "master.m3u8" in names and "360p/index.m3u8" in names
    assert out["file_size_bytes"] == sum(f["size"] for f in out["files"])
    # The price is the three rungs' (all in the 480 row), for the clip's length.
    assert job["total_actual_cost"] == pytest.approx(CLIP_S / 60 * (0.005 + 0.005 + 0.010), abs=2e-4)

    dl = link(api, job)
    assert dl["url"].endswith("/master.m3u8")
    assert {f["name"] for f in dl["files"]} == names
    with httpx.Client(timeout=30) as client:
        master = client.get(dl["url"])
        assert master.status_code == 200
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        lines = master.text.splitlines()
        audio = [attributes(x) for x in lines if x.startswith("#EXT-X-MEDIA:")]
        assert len(audio) == 1 and audio[0]["TYPE"] == "AUDIO"  # one audio rendition for every rung
        variants = [
            (attributes(x), lines[i + 1]) for i, x in enumerate(lines) if x.startswith("#EXT-X-STREAM-INF:")
        ]
        video = [(a, uri) for a, uri in variants if "RESOLUTION" in a]
        assert [a["RESOLUTION"] for a, _ in video] == ["640x360", "426x240", "320x180"]
        assert [a["CODECS"].split(".")[0] for a, _ in video] == ["avc1", "avc1", "hvc1"]
        assert all("mp4a.40.2" in a["CODECS"] and a["AUDIO"] == audio[0]["GROUP-ID"] for a, _ in video)
        bandwidths = [int(a["BANDWIDTH"]) for a, _ in video]
        assert bandwidths == sorted(bandwidths, reverse=True) and bandwidths[-1] > 0

        timelines = []
        for (attrs, uri), want in zip(
            video, [("h264", 640, 360), ("h264", 426, 240), ("hevc", 320, 180)], strict=True
        ):
            playlist_url = str(httpx.URL(dl["url"]).join(uri))  # relative, as a player resolves it
            init, segments = media_playlist(fetch(client, playlist_url).decode())
            assert len(segments) == math.ceil(CLIP_S / SEGMENT_S)
            assert sum(d for d, _ in segments) == pytest.approx(CLIP_S, abs=0.1)
            timelines.append([round(d, 2) for d, _ in segments])
            init_url = str(httpx.URL(playlist_url).join(init))
            start = 0.0
            for n, (_, segment) in enumerate(segments):
                data = probe_segment(
                    client, init_url, str(httpx.URL(playlist_url).join(segment)), tmp_path / "s.mp4"
                )
                v = stream(data, "video")
                assert v is not None and (v["codec_name"], v["width"], v["height"]) == want, attrs
                # Every segment of every rung starts on a keyframe, at the same instant.
                assert "K" in data["first_packet"]["flags"]
                # (measured from the first segment's: encoders delay the first frame by their reorder depth)
                pts = float(data["first_packet"]["pts_time"])
                start = pts if n == 0 else start
                assert pts - start == pytest.approx(n * SEGMENT_S, abs=0.05)
        assert timelines[0] == timelines[1] == timelines[2]  # aligned across rungs

        audio_url = str(httpx.URL(dl["url"]).join(audio[0]["URI"]))
        init, segments = media_playlist(fetch(client, audio_url).decode())
        data = probe_segment(
            client,
            str(httpx.URL(audio_url).join(init)),
            str(httpx.URL(audio_url).join(segments[0][1])),
            tmp_path / "a.mp4",
        )
        a = stream(data, "audio")
        assert a is not None and (a["codec_name"], a["channels"], a["sample_rate"]) == ("aac", 2, "48000")
        assert stream(data, "video") is None


def test_segment_tokens_cannot_be_tampered_with_or_escape(api: Api, clip: Path) -> None:
    spec = {"type": "hls", "video": [{"codec": "h264", "height": 180}], "segments": {"duration": SEGMENT_S}}
    job = api.wait(api.submit(clip, [spec])["id"])
    assert job["status"] == "completed", job
    dl = link(api, job)
    segment = next(f for f in dl["files"] if f["name"].endswith(".m4s"))
    folder, _, name = segment["url"].partition("/180p/")
    base, _, token = folder.rpartition("/")
    payload, mac = token.split(".")
    with httpx.Client(timeout=30) as client:
        assert client.get(segment["url"]).status_code == 200
        flipped = "A" if mac[-1] != "A" else "B"
        for bad in (f"{payload}.{mac[:-1]}{flipped}", f"{payload[:-2]}xx.{mac}"):
            r = client.get(f"{base}/{bad}/180p/{name}")
            assert r.status_code == 403 and r.json()["error"]["code"] == "invalid-token"
        # The input sits next to the outputs folder in storage: `..` must not reach it.
        for escape in (
            "../../input/ladder.mp4",
            "180p/../../../input/ladder.mp4",
            "%2E%2E/%2E%2E/input/ladder.mp4",
        ):
            r = client.get(f"{folder}/{escape}")
            assert r.status_code in (403, 404), escape
            assert r.headers["content-type"].startswith("application/json")


# ---------------------------------------------------------------- DASH -------------------------------------

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def test_dash_ladder(api: Api, clip: Path, tmp_path: Path) -> None:
    rungs = [
        {"codec": "h264", "height": 360},
        {"codec": "h264", "height": 240},
        {"codec": "vp9", "height": 180, "quality": "economy"},
        {"codec": "av1", "height": 144, "quality": "economy"},
    ]
    job = api.wait(
        api.submit(clip, [{"type": "dash", "video": rungs, "segments": {"duration": SEGMENT_S}}])["id"]
    )
    assert job["status"] == "completed", job
    out = job["outputs"][0]
    assert (out["content_type"], out["filename"]) == ("application/dash+xml", "manifest.mpd")
    dl = link(api, job)
    assert dl["url"].endswith("/manifest.mpd")
    with httpx.Client(timeout=30) as client:
        mpd = ET.fromstring(fetch(client, dl["url"]))
        assert mpd.get("type") == "static"
        sets = mpd.findall(".//d:AdaptationSet", NS)
        video = [
            (s, r) for s in sets if s.get("contentType") == "video" for r in s.findall("d:Representation", NS)
        ]
        audio = [
            r for s in sets if s.get("contentType") == "audio" for r in s.findall("d:Representation", NS)
        ]
        assert len(audio) == 1 and audio[0].get("codecs") == "mp4a.40.2"
        assert [(r.get("width"), r.get("height")) for _, r in video] == [
            ("640", "360"),
            ("426", "240"),
            ("320", "180"),
            ("256", "144"),
        ]
        assert [r.get("codecs", "").split(".")[0] for _, r in video] == ["avc1", "avc1", "vp09", "av01"]
        assert all(int(r.get("bandwidth", "0")) > 0 for _, r in video)
        timelines = []
        for (_, rep), want in zip(
            video, [("h264", 640, 360), ("h264", 426, 240), ("vp9", 320, 180), ("av1", 256, 144)], strict=True
        ):
            tpl = rep.find("d:SegmentTemplate", NS)
            assert tpl is not None
            scale = int(tpl.get("timescale", "1"))
            durations = [
                int(s.get("d", "0")) / scale
                for s in tpl.findall("d:SegmentTimeline/d:S", NS)
                for _ in range(int(s.get("r", "0")) + 1)
            ]
            assert len(durations) == math.ceil(CLIP_S / SEGMENT_S)
            assert sum(durations) == pytest.approx(CLIP_S, abs=0.1)
            timelines.append(durations)
            rid = rep.get("id", "")
            init = tpl.get("initialization", "").replace("$RepresentationID$", rid)
            number = int(tpl.get("startNumber", "1"))
            for n in range(len(durations)):
                chunk = (
                    tpl.get("media", "")
                    .replace("$RepresentationID$", rid)
                    .replace("$Number%05d$", f"{number + n:05d}")
                )
                data = probe_segment(
                    client,
                    str(httpx.URL(dl["url"]).join(init)),
                    str(httpx.URL(dl["url"]).join(chunk)),
                    tmp_path / "s.mp4",
                )
                v = stream(data, "video")
                assert v is not None and (v["codec_name"], v["width"], v["height"]) == want
                assert "K" in data["first_packet"]["flags"]
        assert timelines[0] == timelines[1] == timelines[2] == timelines[3]
        # One adaptation set per video codec (players switch rungs within one), one for the audio.
        assert [s.get("contentType") for s in sets] == ["video", "video", "video", "audio"]


# ---------------------------------------------------------------- invalid requests -------------------------


@pytest.mark.parametrize(
    ("output", "words"),
    [
        (
            {"type": "mp4", "video": {"codec": "h264"}, "segments": {"duration": 4}},
            "segments are only for hls and dash",
        ),
        (
            {"type": "mp4", "video": [{"codec": "h264"}, {"codec": "h264", "height": 240}]},
            "takes one video variant",
        ),
        ({"type": "hls", "video": [{"codec": "h264", "height": 240}] * 21}, "at most 20"),
        ({"type": "hls"}, "needs a video variant"),
        ({"type": "hls", "video": [{"codec": "vp9"}]}, "allowed: h264, h265"),
        ({"type": "dash", "video": [{"codec": "h265"}]}, "allowed: h264, vp9, av1"),
        (
            {"type": "hls", "video": [{"codec": "h264"}], "segments": {"duration": 0}},
            "greater than or equal to 1",
        ),
        (
            {"type": "dash", "video": [{"codec": "h264"}], "segments": {"duration": 31}},
            "less than or equal to 30",
        ),
        ({"type": "hls", "video": [{"codec": "h264"}], "audio": {"codec": "opus"}}, "allowed: aac"),
    ],
)
def test_invalid_ladders_are_a_400(api: Api, clip: Path, output: dict[str, Any], words: str) -> None:
    resp = api.upload(clip, [output])
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert words in error["message"] and "outputs" in error["message"], error


# ---------------------------------------------------------------- the package check ------------------------


# ---------------------------------------------------------------- trim and join ----------------------------


def test_hls_ladder_of_a_clip(api: Api, clip: Path) -> None:
    spec = {"type": "hls", "video": [{"codec": "h264", "height": 360}, {"codec": "h264", "height": 180}],
            "segments": {"duration": SEGMENT_S}}  # fmt: skip
    resp = upload_form(api, clip, [spec], clip='{"start": 0.5, "end": 1.5}')
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    assert abs(job["outputs"][0]["duration_ms"] - 1000) <= 100
    dl = link(api, job)
    with httpx.Client(timeout=30) as client:
        for rung in ("360p", "180p"):
            _, segments = media_playlist(
                fetch(client, str(httpx.URL(dl["url"]).join(f"{rung}/index.m3u8"))).decode()
            )
            assert len(segments) == 1 and sum(d for d, _ in segments) == pytest.approx(1.0, abs=0.1)


def test_templated_path_of_a_package_is_a_folder(api: Api, clip: Path) -> None:
    spec = {"type": "dash", "video": [{"codec": "h264", "height": 180}], "segments": {"duration": SEGMENT_S}}
    resp = api.upload(clip, [spec], output_path_template="ladders/{job_id}/{codec}-{resolution}")
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    out = job["outputs"][0]
    assert out["path"] == f"ladders/{job['id']}/h264-180p"  # a folder: no ".dash" added
    dl = link(api, job)
    assert "/manifest.mpd" in dl["url"] and any(f["name"].endswith(".m4s") for f in dl["files"])
    with httpx.Client(timeout=30) as client:
        assert ET.fromstring(fetch(client, dl["url"])).get("type") == "static"
