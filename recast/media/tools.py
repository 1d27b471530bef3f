"""The ffmpeg and ffprobe executables, the arguments every run of them gets, and `MediaError`.

Inputs are hostile: ffmpeg and ffprobe only ever open the local file the fetch step wrote, with the
protocol whitelist limited to `file`, so a crafted playlist cannot make them read other files or URLs.
"""

from __future__ import annotations

# Demuxers Recast accepts. Playlist-like formats (hls, concat, …) are absent on purpose: they open
# further files named inside the input, and with a `file`-only protocol whitelist those can still be
# other local files — another organization's media, say.
FORMAT_WHITELIST = (
    "mov,matroska,avi,flv,mpegts,mpeg,ogg,wav,mp3,aac,flac,asf,mxf,gif,m4v,h264,hevc,ivf,nut,aiff,caf,dv,"
    "yuv4mpegpipe,w64,image2,png_pipe,jpeg_pipe,webp_pipe"
)
INPUT_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": FORMAT_WHITELIST}

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
# `-progress pipe:1` gives machine-readable progress on stdout; errors only on stderr.
GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]


class MediaError(Exception):
    """A permanent problem with the media itself; `code` becomes the job's or output's error_code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
