"""`output_path_template`: where a job's outputs are stored, rendered at submit time and checked safe.

A rendered path is relative to the organization's `outputs/` prefix and can never leave it: no `..`,
no absolute paths, no backslashes or control characters.
"""

from __future__ import annotations

import re
import string
from datetime import datetime

from recast.core.formats import FOLDER_TYPES, OutputType
from recast.core.previews import AnimationSpec, WaveformSpec
from recast.core.requests import PATH_TEMPLATE_VARIABLES
from recast.core.specs import OutputSpec, size_label

_SEGMENT = re.compile(r"^[A-Za-z0-9._=+@-]+$")


class PathTemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Refuse unknown variables and format tricks (`{job_id.x}`, `{job_id!r}`, `{job_id:>9}`)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PathTemplateError(f"output_path_template: {exc}") from exc
    allowed = ", ".join("{" + v + "}" for v in PATH_TEMPLATE_VARIABLES)
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PATH_TEMPLATE_VARIABLES or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise PathTemplateError(f"output_path_template: unknown variable {shown}; allowed: {allowed}")


def render(template: str, *, job_id: str, output_id: str, created_at: datetime, spec: OutputSpec) -> str:
    """The output's storage path; the container's extension is added when the template has none (not
    to a folder output's)."""
    check_template(template)
    if spec.type.is_visual or spec.type is OutputType.waveform or spec.animation is not None:
        codec, resolution, quality = _picture_fields(spec)
    elif spec.video:
        video = spec.video[0]
        codec, quality, resolution = video.codec.value, video.quality.value, size_label(video)
    else:  # audio-only outputs
        kbps = spec.audio_bitrate_kbps
        codec, resolution, quality = spec.audio_codec.value, "audio", f"{kbps}k" if kbps else "lossless"
    path = template.format(
        job_id=job_id,
        output_id=output_id,
        date=created_at.strftime("%Y-%m-%d"),
        format=spec.type.value,
        codec=codec,
        resolution=resolution,
        quality=quality,
    )
    segments = path.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise PathTemplateError(
                f"output_path_template: {path!r} is not a safe relative path (segments of letters, digits "
                "and ._=+@- only; no empty, '.' or '..' segments, no leading '/')"
            )
    # A folder output (an HLS/DASH package…) is stored *under* its path: a folder, not a file, so it
    # gets no extension.
    if "." not in segments[-1] and spec.type not in FOLDER_TYPES:
        path += f".{spec.type.value}"
    return path


def _picture_fields(spec: OutputSpec) -> tuple[str, str, str]:
    """{codec}, {resolution} and {quality} of an image, thumbnails, animated preview or waveform output."""
    if spec.type is OutputType.waveform:
        wave = spec.waveform or WaveformSpec()
        return "png", f"{wave.width}x{wave.height}", "default"
    if spec.animation is not None or spec.type is OutputType.gif:
        anim = spec.animation or AnimationSpec()
        return spec.type.value, f"{anim.width}w", str(anim.quality or anim.colors or "default")
    if spec.thumbnails is not None:
        t = spec.thumbnails
        return t.format.value, f"{t.width}w", str(t.quality) if t.quality else "default"
    image = spec.image
    size = "source"
    if image and image.width and image.height:
        size = f"{image.width}x{image.height}"
    elif image and (image.width or image.height):
        size = f"{image.width}w" if image.width else f"{image.height}h"
    return spec.type.value, size, str(image.quality) if image and image.quality else "default"
