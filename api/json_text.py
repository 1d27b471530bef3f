"""A client's JSON, parsed: `json.loads`, refusing strings with an unpaired UTF-16 surrogate.

JSON's `\\ud800`–`\\udfff` escapes may stand alone, and Python's parser accepts them, but no UTF-8 text
can hold one: the first encode of such a string (hashing an idempotency key, a Temporal payload, a
log line) raises, which would surface as a 500 far from the request. Refusing them here turns that
into the caller's 400 (its `except ValueError`)."""

from __future__ import annotations

import json


def loads(data: bytes | bytearray | str) -> object:
    """`json.loads`, raising ValueError also for a string no UTF-8 text can carry."""
    value = json.loads(data)
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("a string holds an unpaired UTF-16 surrogate (\\ud800–\\udfff)") from exc
    return value
