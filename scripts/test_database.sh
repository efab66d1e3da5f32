#!/usr/bin/env bash
# Makes the test PostgreSQL ready: reachable (started when it is a local cluster that is down) and with
# PostGIS available (Debian's package installed when missing). Tests read TEST_DATABASE_URL, else the
# local server on 127.0.0.1:5432.
set -euo pipefail

url="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
libpq_url="${url/postgresql+psycopg:/postgresql:}"

answers() { psql "$libpq_url" -XAtqc 'SELECT 1' >/dev/null 2>&1; }

if ! answers && command -v pg_ctlcluster >/dev/null && [ -z "${TEST_DATABASE_URL:-}" ]; then
  echo "test database: starting the local PostgreSQL cluster"
  for cluster in /etc/postgresql/*/main; do
    version=$(basename "$(dirname "$cluster")")
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 30); do answers && break; sleep 1; done
fi
if ! answers; then
  echo "test database: no PostgreSQL answers at ${libpq_url}; start one or set TEST_DATABASE_URL" >&2
  exit 1
fi

available=$(psql "$libpq_url" -XAtqc "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
if [ "$available" = 0 ]; then
  major=$(psql "$libpq_url" -XAtqc "SELECT current_setting('server_version_num')::int / 10000")
  package="postgresql-${major}-postgis-3"
  "$(dirname "$0")/install_packages.sh" "test database (PostGIS, on the database server)" "$package"
fi
echo "test database: PostgreSQL with PostGIS at ${libpq_url}"
