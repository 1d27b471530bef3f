"""Print the installed distributions a lock file does not name, space-separated, for bootstrap.sh.

`pip install -r LOCK` adds and changes packages but never removes one a previous lock had; left in
the venv, such a package could make the tests pass while the lock lacks it (CI's fresh venv would not
have it). The project itself is installed apart from the lock, so it is never listed.

Usage: python scripts/unlocked.py requirements/dev.lock
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import distributions
from pathlib import Path

PROJECT = "recast"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", re.MULTILINE)


def canonical(name: str) -> str:
    """PEP 503 form, so `typing_extensions` in metadata matches `typing-extensions` in a lock."""
    return re.sub(r"[-_.]+", "-", name).lower()


def unlocked(lock: Path) -> list[str]:
    locked = {canonical(name) for name in PIN.findall(lock.read_text())}
    installed = {canonical(name) for dist in distributions() if (name := dist.metadata["Name"])}
    return sorted(installed - locked - {PROJECT})


if __name__ == "__main__":
    print(*unlocked(Path(sys.argv[1])))
