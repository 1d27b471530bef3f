"""Pictures whose colour says where they came from (red → green → blue, one per frame or second), so an
image test can tell which frame an output holds; compared with Pillow, a decoder independent of ffmpeg."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

COLOURS = ("red", "green", "blue")
RGB = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}


def colour_strip(rate: str) -> str:
    """Three solid colours one after the other, each one frame at `rate` (a lavfi graph)."""
    inputs = "".join(f"color=c={c}:s=320x240:r={rate}:d=1[{c}];" for c in COLOURS)
    return inputs + "".join(f"[{c}]" for c in COLOURS) + "concat=n=3:v=1:a=0"


def colour_of(picture: Image.Image) -> str:
    r, g, b = picture.convert("RGB").getpixel((picture.width // 2, picture.height // 2))  # type: ignore[misc]
    return min(RGB, key=lambda c: sum((x - y) ** 2 for x, y in zip(RGB[c], (r, g, b), strict=True)))


def tagged(path: Path, orientation: int) -> Path:
    """A 320x160 JPEG (a green block in its stored top-left corner) tagged with this EXIF orientation."""
    picture = Image.new("RGB", (320, 160), (200, 30, 30))
    picture.paste((20, 200, 20), (0, 0, 100, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    picture.save(path, exif=exif.tobytes(), quality=95)
    return path


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0–255."""
    pairs = list(zip(a.tobytes(), b.tobytes(), strict=True))
    return sum(abs(x - y) for x, y in pairs) / len(pairs)
