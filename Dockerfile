# One image for the five services; the service is chosen by the command (python -m services.<name>).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
        softhsm2 opensc libmagic1 poppler-utils fonts-liberation2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY shared ./shared
COPY services ./services
COPY localaxis ./localaxis
COPY devstack ./devstack
COPY deploy ./deploy
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 vanthu
USER vanthu
ENV BIND_HOST=0.0.0.0 PYTHONUNBUFFERED=1
