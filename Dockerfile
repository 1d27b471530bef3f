# One image for both Recast processes (see docker-compose.yml):
#   API (default CMD):  uvicorn api.app:create_app --factory --host 0.0.0.0 --port 8000
#   worker:             python worker.py
# Both are configured by the RECAST_* environment variables (docs/configuration.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECAST_DATA_DIR=/data

# ffmpeg and ffprobe, from Debian's packages as on a development machine; a font for burned-in captions
# (libass finds it through fontconfig; ffmpeg's dependencies pull in DejaVu too, named here to be sure).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Non-root. /data is created owned by that user, so a named volume mounted there is writable.
RUN useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin recast \
    && mkdir -p /data \
    && chown recast:recast /data

WORKDIR /app

# The runtime dependencies first, in their own layer: rebuilt only when the lock changes. The lock pins
# the whole tree with hashes (`make lock`); it leaves out the test tools and the `temporal` CLI, which
# only the embedded dev server uses: here Temporal is a service of its own (docker-compose.yml).
COPY requirements/runtime.lock requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.lock

# Then the project itself (packages recast, api, workflows, activities and module worker, as listed in
# pyproject's [tool.setuptools]), its dependencies being the locked ones above and its build the
# locked setuptools; the sources also stay in /app, where `python worker.py` runs.
COPY pyproject.toml README.md ./
COPY recast/ recast/
COPY api/ api/
COPY workflows/ workflows/
COPY activities/ activities/
COPY worker.py ./
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && rm -rf build ./*.egg-info

USER recast
EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
