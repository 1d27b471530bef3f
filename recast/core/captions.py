"""Captions: the job's caption files (`captions`, SRT or WebVTT, each a language), how outputs carry
them (a text track, a rendition of a package, or `burn_in` into the picture) and what an output reports.
Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from recast.core.specs import OutputSpec

MAX_CAPTIONS = 10
# Limits a caption file is held to (recast/media/captions.py): a feature film's subtitles are ~100 KiB
# and ~2,000 cues, so these only ever refuse files built to hurt.
CAPTION_MAX_BYTES = 1024 * 1024
CAPTION_MAX_CUES = 20_000
CAPTION_MAX_CUE_CHARS = 1000
CAPTION_MAX_SECONDS = 24 * 3600
CAPTION_SCHEMES = ("http", "https", "upload")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

# ISO 639-1 → ISO 639-2/B: MP4/MOV store a three-letter code (ffmpeg drops a two-letter one there).
ISO639_2 = dict(
    pair.split(":")
    for pair in (
        "aa:aar ab:abk af:afr ak:aka am:amh ar:ara an:arg as:asm av:ava ay:aym az:aze ba:bak bm:bam "
        "be:bel bn:ben bi:bis bo:tib bs:bos br:bre bg:bul ca:cat cs:cze ch:cha ce:che cu:chu cv:chv "
        "kw:cor co:cos cr:cre cy:wel da:dan de:ger dv:div dz:dzo el:gre en:eng eo:epo et:est eu:baq "
        "ee:ewe fo:fao fa:per fj:fij fi:fin fr:fre fy:fry ff:ful gd:gla ga:gle gl:glg gv:glv gn:grn "
        "gu:guj ht:hat ha:hau he:heb hz:her hi:hin ho:hmo hr:hrv hu:hun hy:arm ig:ibo io:ido ii:iii "
        "iu:iku ie:ile ia:ina id:ind ik:ipk is:ice it:ita jv:jav ja:jpn kl:kal kn:kan ks:kas ka:geo "
        "kr:kau kk:kaz km:khm ki:kik rw:kin ky:kir kv:kom kg:kon ko:kor kj:kua ku:kur lo:lao la:lat "
        "lv:lav li:lim ln:lin lt:lit lb:ltz lu:lub lg:lug mh:mah ml:mal mr:mar mk:mac mg:mlg mt:mlt "
        "mn:mon mi:mao ms:may my:bur na:nau nv:nav nr:nbl nd:nde ng:ndo ne:nep nl:dut nn:nno nb:nob "
        "no:nor ny:nya oc:oci oj:oji or:ori om:orm os:oss pa:pan pi:pli pl:pol pt:por ps:pus qu:que "
        "rm:roh ro:rum rn:run ru:rus sg:sag sa:san si:sin sk:slo sl:slv se:sme sm:smo sn:sna sd:snd "
        "so:som st:sot es:spa sq:alb sc:srd sr:srp ss:ssw su:sun sw:swa sv:swe ty:tah ta:tam tt:tat "
        "te:tel tg:tgk tl:tgl th:tha ti:tir to:ton tn:tsn ts:tso tk:tuk tr:tur tw:twi ug:uig uk:ukr "
        "ur:urd uz:uzb ve:ven vi:vie vo:vol wa:wln wo:wol xh:xho yi:yid yo:yor za:zha zh:chi zu:zul"
    ).split()
)


class CaptionTrack(BaseModel):
    """One caption file of a job: SRT or WebVTT, fetched like an input, checked and converted."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=4096,
        description="Where the file is: `https://…`, `http://…` or `upload://{upload_id}` (POST /v1/uploads).",
    )
    language: str = Field(
        max_length=35,
        description="BCP 47 language tag, e.g. `en`, `pt-BR`: the track's language and the name "
        "`burn_in` refers to. Unique within a job.",
    )
    label: str | None = Field(
        default=None, max_length=64, description="What players show in their menu; default: the language."
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in CAPTION_SCHEMES or not rest:
            raise ValueError("captions take " + ", ".join(f"{s}://" for s in CAPTION_SCHEMES) + " URLs")
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str) -> str:
        if not LANGUAGE.match(value):
            raise ValueError(f"language {value[:40]!r} is not a language tag like en, pt-BR or deu")
        return value

    @field_validator("label")
    @classmethod
    def _printable_label(cls, value: str | None) -> str | None:
        # It ends up in a playlist's quoted attribute and in container metadata.
        if value is not None and (not value.strip() or any(c in value for c in '"\n\r\t,\\')):
            raise ValueError("label must be non-blank, without quotes, commas, backslashes or line breaks")
        return value

    @property
    def name(self) -> str:
        return self.label or self.language

    @property
    def iso639_2(self) -> str:
        """The three-letter code MP4/MOV/Matroska track metadata takes (`und` when unknown)."""
        primary = self.language.split("-")[0]
        if len(primary) == 3:
            return primary
        return ISO639_2.get(primary, "und")


class CaptionsReport(BaseModel):
    """`captions` of a finished output: the languages it carries as tracks, and the one burned in."""

    tracks: list[str] = Field(default_factory=list, description="Languages carried as caption tracks.")
    burned_in: str | None = Field(default=None, description="The language rendered into the picture.")


def captions_problem(captions: list[CaptionTrack], outputs: list[OutputSpec]) -> str | None:
    """Why these job captions and outputs do not go together (a 400 at submit), or None."""
    if len(captions) > MAX_CAPTIONS:
        return f"captions: at most {MAX_CAPTIONS} caption files per job, got {len(captions)}"
    languages = [c.language for c in captions]
    for lang in languages:
        if languages.count(lang) > 1:
            return f"captions: language {lang} is given twice; one file per language"
    for i, spec in enumerate(outputs):
        burn = getattr(spec, "burn_in", None)
        if burn is not None and burn not in languages:
            named = ", ".join(languages) if languages else "none given"
            return f"outputs[{i}].burn_in: {burn!r} names no caption file; captions: {named}"
    return None
