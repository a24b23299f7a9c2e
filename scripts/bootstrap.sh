#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine (idempotent): system packages, RabbitMQ running,
# the Python virtual environment from the lock file. Sourced by ./run-system and ./run-tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(softhsm2 opensc poppler-utils fonts-liberation2 libmagic1 rabbitmq-server)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# LibreOffice (headless, Writer only) turns officers' DOCX/ODT drafts into PDF.
if ! command -v soffice >/dev/null 2>&1; then
  echo "installing LibreOffice Writer (headless)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libreoffice-writer-nogui >/dev/null
fi

# The browser tests drive Debian's Chromium (Playwright with executable_path=/usr/bin/chromium;
# no browser download). Only the test command asks for it.
if [ "${VANTHU_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium (browser tests)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# RabbitMQ: Debian's package does not start itself; AMQP_URL points elsewhere when set.
if [ -z "${AMQP_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
  for _ in $(seq 1 90); do
    rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break
    sleep 1
  done
fi

# The operator's console reads queue depths from RabbitMQ's management API (port 15672).
if [ -z "${AMQP_URL:-}" ] && command -v rabbitmq-plugins >/dev/null 2>&1 \
   && ! (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null; then
  echo "enabling RabbitMQ's management plugin"
  rabbitmq-plugins enable -q rabbitmq_management >/dev/null || true
  for _ in $(seq 1 30); do
    (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null && break
    sleep 1
  done
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.lock-installed ] || ! cmp -s requirements.lock .venv/.lock-installed; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  cp requirements.lock .venv/.lock-installed
fi
