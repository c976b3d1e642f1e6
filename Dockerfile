# Two images from one file; docker-compose.yml builds both (docs/scale-out.md says how to run them).
#   mlflow-server      the official MLflow image plus the PostgreSQL driver it does not ship
#   worker (default)   the harness on the official PyTorch CUDA image, whose torch it keeps
#
# Build the worker alone:  docker build -t gan-ablation-harness .
# Newer bases:             --build-arg PYTORCH_IMAGE=pytorch/pytorch:<torch>-cuda<x.y>-cudnn9-runtime
#                          --build-arg MLFLOW_VERSION=<3.x.y>
ARG PYTORCH_IMAGE=pytorch/pytorch:2.11.0-cuda12.8-cudnn9-runtime
ARG MLFLOW_VERSION=3.17.0

# --- the tracking server ---------------------------------------------------------------------
# Built once rather than `pip install psycopg2-binary` at every start: the server then starts
# without a package index (air-gapped clusters, PyPI outages) and always runs the same driver.
FROM ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION} AS mlflow-server
RUN pip install --no-cache-dir "psycopg2-binary==2.9.10" \
 && groupadd --gid 10001 mlflow && useradd --uid 10001 --gid 10001 --create-home mlflow \
 && mkdir /mlartifacts && chown 10001:10001 /mlartifacts
# A fresh named volume mounted at /mlartifacts starts with this folder's owner: the server
# writes artifacts without root. Numeric, so runtimes can check it is not root.
USER 10001:10001
ENV MLFLOW_DISABLE_TELEMETRY=true
EXPOSE 5000

# --- the sweep worker (last stage: what a plain `docker build .` produces) --------------------
FROM ${PYTORCH_IMAGE} AS worker
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_DISABLE_TELEMETRY=true
WORKDIR /app

# The base image's CUDA build of torch and its matching torchvision satisfy the pyproject ranges
# (torch>=2.4, torchvision>=0.19). Pinning them as constraints makes pip keep them: if a range
# ever excluded them, the build fails here instead of silently pulling another torch (and
# gigabytes of CUDA wheels) from PyPI.
RUN python -c "import torch, torchvision; print(f'torch=={torch.__version__}'); \
print(f'torchvision=={torchvision.__version__}')" > /etc/pip-keep-torch.txt
COPY pyproject.toml ./
COPY harness ./harness
RUN pip install --constraint /etc/pip-keep-torch.txt . \
 && python -c "import harness.sweep, psycopg2; print('harness installed')"
COPY experiments ./experiments

# Non-root. runs/ (evaluation caches), data/ (downloads) and reports/ are the only writable places.
RUN groupadd --gid 10001 harness && useradd --uid 10001 --gid 10001 --create-home harness \
 && mkdir -p runs data reports \
 && chown 10001:10001 runs data reports
USER 10001:10001
CMD ["python", "-m", "harness.sweep", "--help"]
