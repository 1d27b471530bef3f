"""The command line's finishing options: `--loudness`, `--captions` and `--burn-in` parsed, and applied
to the job's outputs and fields the way `POST /v1/jobs` takes them (`audio.loudness`, `captions`,
`burn_in`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from recast.core import presets
from recast.core.captions import LANGUAGE
from recast.core.formats import OutputType

LOUDNESS_FORMS = "LUFS[:PEAK] (e.g. -23, -16:-1.5) or `measure`"
CAPTIONS_FORMS = "FILE_OR_URL:LANG[:LABEL] (e.g. talk.en.vtt:en, https://x/fr.srt:fr:Français)"


def parse_loudness(text: str) -> dict[str, Any]:
    """`-23` → {"target_lufs": -23}; `-16:-1.5` adds the true-peak ceiling; `measure` → measure_only."""
    if text.strip() == "measure":
        return {"measure_only": True}
    target, _, peak = text.partition(":")
    try:
        spec = {"target_lufs": float(target)}
        if peak:
            spec["true_peak_db"] = float(peak)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {LOUDNESS_FORMS}") from None
    return spec


def parse_captions(text: str) -> dict[str, str]:
    """`SOURCE:LANG[:LABEL]`; SOURCE a local file (uploaded on submit) or an http(s)/upload:// URL,
    which has colons of its own, so the language is looked for from the right."""
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and parts[0] and LANGUAGE.match(parts[1]) and not parts[2].startswith("//"):
        return {"source": parts[0], "language": parts[1], "label": parts[2]}
    source, _, language = text.rpartition(":")
    if not source or not LANGUAGE.match(language):
        raise argparse.ArgumentTypeError(f"{text!r}: expected {CAPTIONS_FORMS}")
    return {"source": source, "language": language}


def _output_type(spec: dict[str, Any]) -> OutputType | None:
    try:
        return OutputType(spec.get("type") or presets.expand(spec.get("preset"))["type"])
    except (ValueError, presets.UnknownPreset):
        return None  # the API names the problem


def apply(
    outputs: list[dict[str, Any]], loudness: dict[str, Any] | None, burn_in: str | None
) -> list[dict[str, Any]]:
    """`loudness` on every output with audio, `burn_in` on every video output; others unchanged."""
    done = []
    for spec in outputs:
        kind = _output_type(spec)
        spec = dict(spec)
        if kind is not None and not kind.is_visual:
            audio = spec.get("audio")
            if audio is None and spec.get("preset"):
                audio = presets.expand(spec["preset"]).get("audio")  # given here, it replaces the preset's
            audio = dict(audio or {})
            if loudness is not None and audio.get("enabled", True):
                spec["audio"] = {**audio, "loudness": loudness}
            if burn_in is not None and not kind.is_audio:
                spec["burn_in"] = burn_in
        done.append(spec)
    return done


def caption_fields(captions: list[dict[str, str]], upload: Callable[[str], str]) -> list[dict[str, str]]:
    """The job's `captions`: a local file is uploaded first (`upload` gives its upload:// URL)."""
    fields = []
    for item in captions:
        source = item["source"]
        url = source if "://" in source else upload(source)
        entry = {"url": url, "language": item["language"]}
        if item.get("label"):
            entry["label"] = item["label"]
        fields.append(entry)
    return fields
