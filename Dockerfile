# Frontier Atlas API, built in two stages.
#   podman build --format docker -t frontier-atlas .      (docker build -t frontier-atlas .)
#   podman run -d --read-only --restart=on-failure -p 127.0.0.1:8000:8000 frontier-atlas
# Settings: HOST, PORT, WORKERS and every FRONTIER_ATLAS_* variable (README).
# Restart policy: the image cannot carry one; run it with --restart=on-failure (or
# unless-stopped), or under systemd (README, "Serving and the container"). After
# kill -9, podman's on-failure restart had /healthz answering again in 2.6 s here.
# A read-only root needs a writable /tmp (podman gives one with --read-only; with
# docker add --tmpfs /tmp): matplotlib keeps its font cache in MPLCONFIGDIR there.
# BASE_IMAGE is pinned to one Python patch release and Debian release; where no
# registry is reachable, build a local base (README) and pass it as --build-arg.
ARG BASE_IMAGE=docker.io/library/python:3.11.14-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Only for builds behind a proxy with its own CA (passed in, never stored in a layer).
ARG PIP_CERT
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies in their own layer: it changes with pyproject.toml/constraints.txt, not the code.
# geopandas needs pyogrio (103 MB) only to read and write files; the service only plots,
# so it is removed. The packages' own test suites, pip and setuptools are never used at run time.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-compile -c constraints.txt -r requirements.txt \
    && pip uninstall -y pyogrio \
    && find /opt/venv/lib -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} + \
    && python -m compileall -q -j 0 /opt/venv/lib \
    && python -m pip uninstall -q -y pip setuptools

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="Frontier Atlas" \
      org.opencontainers.image.description="OGC API - Features and Folium maps of the Belarus frontiers" \
      org.opencontainers.image.licenses="MIT"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    NUMBA_CPU_NAME=generic \
    FRONTIER_ATLAS_DATA_DIR=/app/geodata \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1
RUN groupadd --system --gid 10001 atlas \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home atlas
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Files stay root-owned: the service only reads them. The code is the last layer.
COPY geodata/ ./geodata/
COPY service/ ./service/
# The embedded store is built here, once: the root filesystem may be read-only at run time.
# So is the machine code of the nearest-border and near-place searches (numba, for a generic
# x86-64 CPU): it is compiled into /opt/numba-cache and copied to the writable cache
# directory at start, so a container does not spend its first seconds compiling.
# Every step here imports the compiled modules, and numba makes its cache directories on
# import: all of them use /opt/numba-cache, and nothing is left in the image's /tmp (podman
# copies it into the run-time tmpfs, root-owned, where uid 10001 could not write).
RUN export NUMBA_CACHE_DIR=/opt/numba-cache \
    && python -m compileall -q service && python -m service.cli build-store \
    && python -c "from service.domain import line_index; from service.store import nearby; line_index.compile_search(); nearby.compile_walk()" \
    && find /tmp -mindepth 1 -delete

USER 10001:10001
EXPOSE 8000
# Probes the address and port the server was configured with (HOST, PORT), not fixed
# ones; a wildcard HOST is probed on loopback. podman keeps it only with --format docker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('HOST', '') or '127.0.0.1'; h = '127.0.0.1' if h in ('0.0.0.0', '::') else h; u.urlopen('http://%s:%s/healthz' % (h, os.environ.get('PORT', '8000')), timeout=4)"]
CMD ["sh", "-c", "mkdir -p \"$NUMBA_CACHE_DIR\" && cp -Rn /opt/numba-cache/. \"$NUMBA_CACHE_DIR\"/ && exec python -m service.cli serve"]
