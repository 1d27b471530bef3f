"""API keys → organizations, kept as SHA-256 hashes only.

Keys come from `RECAST_API_KEYS` (`key=org,…`, hashed as soon as they are read) and from the keys file
`RECAST_API_KEYS_FILE`, one key per line:

    # comments and blank lines are ignored
    sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 acme  # CI key, 2026-11
    sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 globex

The file never holds a key, only its hash: whoever reads it cannot call the API. Add a key with

    python -m recast.infra.keys add acme [--file F]      # prints the new key once, appends its hash

and revoke one by deleting its line. The API re-reads the file when it changes (checked at most once
a second), so neither needs a restart.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("recast.infra.keys")

PREFIX = "sha256:"
KEY_PREFIX = "rk_"
RELOAD_CHECK_S = 1.0
# An organization names a storage prefix (`{org}/jobs/…`) and a visibility-query literal: no path
# separators, whitespace or control characters, and it cannot be `.`/`..` or start with a dot.
_ORG = re.compile(r"[^\s/\\\x00-\x1f\x7f]{1,64}")
_LINE = re.compile(r"sha256:([0-9a-f]{64})\s+(\S+)\s*(?:#.*)?")


class KeysError(ValueError):
    pass


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as stored (without the `sha256:` prefix)."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_org(org: str) -> str:
    if not _ORG.fullmatch(org) or org.startswith("."):
        raise KeysError(
            f"organization {org!r}: 1–64 characters, no whitespace, '/', '\\' or control characters, "
            "and not starting with '.'"
        )
    return org


def parse_env(raw: str) -> dict[str, str]:
    """`RECAST_API_KEYS` (`key=org,key2=org2`; a bare key belongs to `default`) → {hash: org}."""
    hashes: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, org = item.partition("=")
        hashes[hash_key(key.strip())] = check_org(org.strip() or "default")
    return hashes


def parse_file(text: str, name: str = "keys file") -> dict[str, str]:
    """The keys file's text → {hash: org}; KeysError naming the line for anything malformed."""
    hashes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise KeysError(f"{name}, line {number}: expected 'sha256:<64 lowercase hex> <organization>'")
        try:
            hashes[match[1]] = check_org(match[2])
        except KeysError as exc:
            raise KeysError(f"{name}, line {number}: {exc}") from None
    return hashes


def read_file(path: Path) -> dict[str, str]:
    return parse_file(path.read_text(), str(path))


class KeyRing:
    """Who a presented key belongs to. Holds only hashes; follows the keys file as it changes."""

    def __init__(self, env_hashes: dict[str, str], path: Path | None = None) -> None:
        self._env = dict(env_hashes)
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._hashes = dict(self._env)
        if path is not None:
            self._stamp = self._stat()
            # At start a missing or malformed file is a configuration error: refuse to start.
            self._hashes = {**read_file(path), **self._env}

    def _stat(self) -> tuple[int, int, int] | None:
        assert self._path is not None
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._path is None or now - self._checked < RELOAD_CHECK_S:
            return
        self._checked = now
        stamp = self._stat()
        if stamp == self._stamp:
            return
        try:
            # A deleted file revokes every key it held.
            from_file = read_file(self._path) if stamp is not None else {}
        except (OSError, KeysError) as exc:
            # Half-written or mistyped: keep serving the keys we had rather than lock everyone out.
            log.error("keeping the previous API keys: %s", exc)
            return
        self._stamp = stamp
        self._hashes = {**from_file, **self._env}

    def organization(self, key: str) -> str | None:
        """The organization of `key`, or None.

        Timing: the presented key is hashed, and only its hash is looked up. The dict lookup is not
        constant-time, but the only thing its timing can reveal is how close SHA-256(guess) came to a
        stored hash, and knowing a stored hash, even all of it, does not let anyone make a key that has
        it (that is a preimage attack on SHA-256; it is also why the keys file may be read without
        harm). What a byte-by-byte comparison of the keys themselves would leak, how much of a real
        key a guess got right, cannot leak here, so an `hmac.compare_digest` after the lookup (which
        has already found an equal hash) would add nothing.
        """
        self._refresh()
        return self._hashes.get(hash_key(key))

    def __len__(self) -> int:
        return len(self._hashes)


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def add_key(path: Path, org: str, note: str = "") -> str:
    """Create a key for `org`, append its hash to the keys file (created 0600 if missing); the key."""
    check_org(org)
    if "\n" in note or "\r" in note:
        raise KeysError("the note must be one line")
    if path.exists():
        read_file(path)  # never append to a file the API would refuse
    key = new_key()
    comment = f"  # {note}" if note else f"  # added {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    line = f"{PREFIX}{hash_key(key)} {org}{comment}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        if fh.tell() > 0 and not path.read_bytes().endswith(b"\n"):
            fh.write("\n")  # a hand-edited file without a final newline keeps its last line intact
        fh.write(line)  # one write of one short line under O_APPEND: a reloading API never sees half of it
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recast.infra.keys", description="Manage Recast's API keys file."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create a key for an organization; prints it once")
    add.add_argument("org", help="the organization the key belongs to")
    add.add_argument("--file", type=Path, help="the keys file (default: $RECAST_API_KEYS_FILE)")
    add.add_argument("--note", default="", help="a comment stored next to the hash (default: the date)")
    args = parser.parse_args(argv)
    path = args.file or (
        Path(os.environ["RECAST_API_KEYS_FILE"]) if os.environ.get("RECAST_API_KEYS_FILE") else None
    )
    if path is None:
        parser.error("no keys file: pass --file or set RECAST_API_KEYS_FILE")
    try:
        key = add_key(path, args.org, args.note)
    except (KeysError, OSError) as exc:
        print(f"recast.infra.keys: {exc}", file=sys.stderr)
        return 1
    print(key)
    print(f"added a key for {args.org} to {path}; it is shown only this once", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
