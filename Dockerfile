# Opsroom image: `docker build -t opsroom .` then
# `docker run -e OPSROOM_DISCORD_TOKEN=… -e OPSROOM_PUBLIC_URL=https://… opsroom`.

# Base images are pinned to an exact release, so a rebuild gets the same base. To update:
# change both tags to a newer 3.11.x (or pin harder with a digest, python:…@sha256:…, see
# docs/operations.md), rebuild, run the tests.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- builder: install Opsroom and its dependencies into a self-contained venv -------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY migrations ./migrations
RUN pip install '.[postgres]'

# --- final: the venv only, run as an unprivileged user --------------------------------------
FROM ${PYTHON_IMAGE}
RUN useradd --system --user-group --create-home --home-dir /app opsroom \
    && mkdir /app/data \
    && chown opsroom:opsroom /app/data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPSROOM_HTTP_HOST=0.0.0.0 \
    OPSROOM_HTTP_PORT=8080 \
    OPSROOM_DATABASE_URL=sqlite+aiosqlite:////app/data/opsroom.db
WORKDIR /app
# The migrations ship in the wheel too; these copies let an operator run `alembic upgrade head`.
COPY alembic.ini ./
COPY migrations ./migrations
USER opsroom
# The SQLite default lives here; with PostgreSQL (docker-compose.yml) the volume stays empty.
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('OPSROOM_HTTP_PORT', '8080'), timeout=4)" || exit 1
CMD ["opsroom", "run"]
