"""Split-and-stitch HLS/DASH ladders through the API: a chunked ladder is the package a whole encode of
the same ladder makes — the same manifest attributes (BANDWIDTH, CODECS, RESOLUTION), the same segment
timeline in every rung, every segment starting on a keyframe, exactly the whole encode's frames per
rung, the audio to the end. Fetched by the download links and checked with plain parsers and ffprobe."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, activity_attempts, make_clip, upload_form

MPD = "{urn:mpeg:dash:schema:mpd:2011}"


@pytest.fixture(scope="module")
def four_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(
        tmp_path_factory.mktemp("chunked-ladder") / "four.mp4", seconds=4, size="320x180", rate=25
    )


def package(api: Api, job: dict[str, Any], dest: Path) -> Path:
    """Every file of the job's first output, fetched by its signed link into `dest`."""
    out = job["outputs"][0]
    resp = api.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download")
    assert resp.status_code == 200, resp.text
    with httpx.Client(timeout=30) as client:
        for f in resp.json()["files"]:
            got = client.get(f["url"])
            assert got.status_code == 200, f["name"]
            (dest / f["name"]).parent.mkdir(parents=True, exist_ok=True)
            (dest / f["name"]).write_bytes(got.content)
    return dest


def encode(
    api: Api, source: Path, spec: dict[str, Any], chunking: str, dest: Path, **fields: str
) -> dict[str, Any]:
    resp = upload_form(api, source, [spec], chunking=chunking, **fields)
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"], timeout=180)
    assert done["status"] == "completed", done
    dest.mkdir()
    package(api, done, dest)
    return done


def attributes(line: str) -> dict[str, str]:
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


def hls(folder: Path) -> tuple[list[dict[str, str]], dict[str, tuple[str, list[tuple[float, str]]]]]:
    """The master playlist's variants (attributes plus URI) and each media playlist's (init, segments)."""
    lines = (folder / "master.m3u8").read_text().splitlines()
    variants = [
        {**attributes(x), "URI": lines[i + 1]}
        for i, x in enumerate(lines)
        if x.startswith("#EXT-X-STREAM-INF:")
    ]
    uris = [v["URI"] for v in variants if "RESOLUTION" in v]
    uris += [attributes(x)["URI"] for x in lines if x.startswith("#EXT-X-MEDIA:")]
    playlists = {}
    for uri in uris:
        media = (folder / uri).read_text().splitlines()
        assert "#EXT-X-ENDLIST" in media
        init = next(attributes(x)["URI"] for x in media if x.startswith("#EXT-X-MAP:"))
        base = uri.rsplit("/", 1)[0] + "/" if "/" in uri else ""
        segments = [
            (float(x.split(":", 1)[1].split(",")[0]), base + media[i + 1])
            for i, x in enumerate(media)
            if x.startswith("#EXTINF:")
        ]
        playlists[uri] = (base + init, segments)
    return variants, playlists


def joined(folder: Path, init: str, segments: list[str], dest: Path) -> Path:
    """A rung as a player plays it: its init segment, then every media segment."""
    dest.write_bytes(b"".join((folder / name).read_bytes() for name in [init, *segments]))
    return dest


def frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip())


def starts_on_keyframe(folder: Path, init: str, segment: str, dest: Path) -> bool:
    path = joined(folder, init, [segment], dest)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries",
         "packet=flags", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return "K" in json.loads(out)["packets"][0]["flags"]


def test_a_chunked_hls_ladder_is_the_whole_ladders_package(
    api: Api, four_seconds: Path, temporal: Stack, stack_storage: Path, tmp_path: Path
) -> None:
    rungs = [{"codec": "h264"}, {"codec": "h265", "height": 128}]
    spec = {"type": "hls", "video": rungs, "segments": {"duration": 1}}
    chunked = encode(api, four_seconds, spec, "on", tmp_path / "on", chunk_duration="2")
    whole = encode(api, four_seconds, spec, "off", tmp_path / "off")
    assert chunked["outputs"][0]["chunks"] == 2 and whole["outputs"][0]["chunks"] == 1
    assert chunked["outputs"][0]["stitch_duration_ms"] is not None
    (variants, playlists), (whole_variants, whole_playlists) = hls(tmp_path / "on"), hls(tmp_path / "off")
    # The same variants with the same BANDWIDTH, CODECS and RESOLUTION as the whole ladder's.
    assert variants == whole_variants
    assert [v["RESOLUTION"] for v in variants if "RESOLUTION" in v] == ["320x180", "228x128"]
    assert playlists.keys() == whole_playlists.keys()
    for uri, (init, segments) in playlists.items():
        durations = [round(d, 3) for d, _ in segments]
        assert durations == [round(d, 3) for d, _ in whole_playlists[uri][1]], uri
        if "RESOLUTION" not in next((v for v in variants if v["URI"] == uri), {}):
            assert sum(durations) == pytest.approx(4.0, abs=0.05)  # the audio rendition, to the end
            continue
        assert durations == [1.0] * 4, uri
        for _, segment in segments:
            assert starts_on_keyframe(tmp_path / "on", init, segment, tmp_path / "s.mp4"), segment
        names = [s for _, s in segments]
        got = frames(joined(tmp_path / "on", init, names, tmp_path / "rung.mp4"))
        whole_init, whole_segments = whole_playlists[uri]
        want = frames(
            joined(tmp_path / "off", whole_init, [s for _, s in whole_segments], tmp_path / "w.mp4")
        )
        assert got == want == 100, uri  # 4 s at 25 fps in every rung, as the whole encode has
    # Two chunks, each encoding both rungs once; none left in storage.
    assert activity_attempts(temporal, chunked["id"], "encode_chunk") == [1, 1]
    assert not list((stack_storage / "acme" / "jobs" / chunked["id"]).glob("chunks/*/*"))


def mpd(folder: Path) -> list[tuple[dict[str, str], list[str], list[int]]]:
    """Each representation's attributes, files (init, then media segments) and segment durations."""
    root = ET.fromstring((folder / "manifest.mpd").read_text())
    reps = []
    for aset in root.iter(f"{MPD}AdaptationSet"):
        for rep in aset.iter(f"{MPD}Representation"):
            tpl = rep.find(f"{MPD}SegmentTemplate")
            tpl = tpl if tpl is not None else aset.find(f"{MPD}SegmentTemplate")
            assert tpl is not None
            rid = rep.get("id", "")
            durations = []
            for s in tpl.iter(f"{MPD}S"):
                durations += [int(s.get("d", "0"))] * (int(s.get("r", "0")) + 1)
            number = int(tpl.get("startNumber", "1"))
            media = tpl.get("media", "").replace("$RepresentationID$", rid)
            files = [tpl.get("initialization", "").replace("$RepresentationID$", rid)]
            files += [media.replace("$Number%05d$", f"{number + i:05d}") for i in range(len(durations))]
            reps.append(
                (
                    {**rep.attrib, "mimeType": rep.get("mimeType") or aset.get("mimeType") or ""},
                    files,
                    durations,
                )
            )
    return reps


def test_a_chunked_dash_clip_has_the_whole_ladders_frames_and_segments(
    api: Api, four_seconds: Path, tmp_path: Path
) -> None:
    rungs = [{"codec": "h264"}, {"codec": "h264", "height": 128}]
    spec = {"type": "dash", "video": rungs, "segments": {"duration": 1}}
    clip = '{"start": 0.5, "end": 3.3}'
    chunked = encode(api, four_seconds, spec, "on", tmp_path / "on", chunk_duration="1", clip=clip)
    whole = encode(api, four_seconds, spec, "off", tmp_path / "off", clip=clip)
    assert (chunked["outputs"][0]["chunks"], whole["outputs"][0]["chunks"]) == (
        3,
        1,
    )  # 70 frames: 25 + 25 + 20
    reps, whole_reps = mpd(tmp_path / "on"), mpd(tmp_path / "off")
    assert len(reps) == len(whole_reps) == 3
    for (attrs, files, durations), (want, _, want_durations) in zip(reps, whole_reps, strict=True):
        for key in ("id", "mimeType", "codecs", "width", "height"):
            assert attrs.get(key) == want.get(key), key
        assert int(attrs["bandwidth"]) > 0
        if attrs["mimeType"].startswith("audio"):
            assert attrs["bandwidth"] == want["bandwidth"]  # the encoder's bitrate, as the whole ladder says
        if attrs["mimeType"].startswith("video"):
            # The same segment timeline in every rung; the last segment may differ by the whole encode's
            # last frame, which lasts until the clip's end time rather than one frame (a frame at most).
            assert durations[:-1] == want_durations[:-1]
            scale = round(durations[0] / 1.0)
            assert abs(durations[-1] - want_durations[-1]) <= scale / 25
            # Exactly the clip's frames, from 0.5 s up to 3.3 s at 25 fps. (The whole ladder of this clip
            # has one more: ffmpeg's constant-frame-rate output to the dash muxer repeats one.)
            assert frames(joined(tmp_path / "on", files[0], files[1:], tmp_path / "r.mp4")) == 70
            for segment in files[1:]:
                assert starts_on_keyframe(tmp_path / "on", files[0], segment, tmp_path / "s.mp4"), segment
