#!/bin/sh
# iamviz container entrypoint: one image, one mode per service of docker/compose.yaml.
#   entrypoint.sh migrate       apply migrations (a PostgreSQL advisory lock: concurrent starts
#                               apply each migration once; a second start finds nothing to do)
#   entrypoint.sh web           gunicorn on ${BIND:-0.0.0.0}:${PORT:-8000}, ${WEB_CONCURRENCY:-3} workers
#                               forked from a master that loaded the app (iamviz/gunicorn_config.py)
#   entrypoint.sh worker ARGS   a Celery worker; ARGS are passed on (e.g. -Q sync -n sync@%h)
#   entrypoint.sh beat          Celery beat (the schedule lives in the database)
#   entrypoint.sh healthcheck   exit 0 when web answers /healthz/ (compose's healthcheck)
#   entrypoint.sh ping NAME     exit 0 when this host's worker NAME@host answers celery's ping
#   entrypoint.sh CMD ...       any other command, run as given
# Runs from the project directory (the image's /app, or a checkout: it finds manage.py beside
# its own folder); python, gunicorn and celery come from PATH.
set -eu

cd "$(dirname "$0")/.."
[ -f manage.py ] || cd /app

mode="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$mode" in
  migrate)
    exec python manage.py migrate_locked --verbosity "${MIGRATE_VERBOSITY:-1}"
    ;;
  web)
    exec gunicorn iamviz.wsgi:application \
      --config python:iamviz.gunicorn_config \
      --bind "${BIND:-0.0.0.0}:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-3}" \
      --access-logfile - \
      "$@"
    ;;
  worker)
    exec celery -A iamviz worker --loglevel "${CELERY_LOG_LEVEL:-INFO}" "$@"
    ;;
  beat)
    exec celery -A iamviz beat --loglevel "${CELERY_LOG_LEVEL:-INFO}" "$@"
    ;;
  healthcheck)
    exec python - <<'PYTHON'
import os, sys, urllib.request
# The first allowed host (a leading-dot pattern stands for its domain), since Django refuses
# a Host header outside ALLOWED_HOSTS.
hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
host = (hosts[0] if hosts else "localhost").lstrip(".").replace("*", "localhost")
port = os.environ.get("PORT", "8000")
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz/", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(f"healthcheck: {exc}", file=sys.stderr)
    sys.exit(1)
PYTHON
    ;;
  ping)
    host="$(python -c 'import socket; print(socket.gethostname())')"
    exec celery -A iamviz inspect ping --timeout "${PING_TIMEOUT:-5}" -d "${1:?worker name}@$host"
    ;;
  *)
    exec "$mode" "$@"
    ;;
esac
