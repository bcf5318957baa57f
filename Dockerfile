# Frontier Atlas API: docker build -t frontier-atlas . && docker run -p 8000:8000 frontier-atlas
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FRONTIER_ATLAS_DATA_DIR=/app/geodata

RUN groupadd --system --gid 10001 atlas \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home atlas

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY service/ ./service/
COPY geodata/ ./geodata/
# Files stay root-owned: the service only reads them.
RUN pip install -c constraints.txt .

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["frontier-atlas", "serve", "--host", "0.0.0.0", "--port", "8000"]
