# One image for both Recast processes (see docker-compose.yml):
#   API (default CMD):  uvicorn api.app:create_app --factory --host 0.0.0.0 --port 8000
#   worker:             python worker.py
# Both are configured by the RECAST_* environment variables (README, "Configuration").
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECAST_DATA_DIR=/data

# ffmpeg and ffprobe, from Debian's packages as on a development machine.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# Non-root. /data is created owned by that user, so a named volume mounted there is writable.
RUN useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin recast \
    && mkdir -p /data \
    && chown recast:recast /data

WORKDIR /app

# The pinned dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (packages recast, api, workflows, activities and module worker, as listed in
# pyproject's [tool.setuptools]); the sources also stay in /app, where `python worker.py` runs.
COPY recast/ recast/
COPY api/ api/
COPY workflows/ workflows/
COPY activities/ activities/
COPY worker.py ./
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info

USER recast
EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
