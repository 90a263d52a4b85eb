#!/usr/bin/env bash
# Install scanapp into .venv and run it on the embedded default (SQLite, no Redis) with
# demo data. Usage: bash scripts/demo.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-${PORT:-5000}}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e . >/dev/null
export SCANAPP_PUBLIC_BASE_URL="${SCANAPP_PUBLIC_BASE_URL:-http://127.0.0.1:${PORT}}"
.venv/bin/flask --app scanapp demo
echo
echo "Serving on http://127.0.0.1:${PORT}  (Ctrl-C stops; data stays in instance/scanapp.db)"
# The worker process: webhooks, EPCIS push, daily scan counts (web workers send nothing).
.venv/bin/flask --app scanapp worker &
WORKER_PID=$!
trap 'kill -TERM "$WORKER_PID" 2>/dev/null; wait "$WORKER_PID" 2>/dev/null || true' EXIT
.venv/bin/gunicorn --bind "127.0.0.1:${PORT}" --workers 2 --threads 4 \
  --access-logfile - "wsgi:app"
