#!/usr/bin/env bash
# Makes the test PostgreSQL's streaming replica ready, for the read-replica tests: a real hot standby of
# the local test server, made by pg_basebackup into a second cluster on 127.0.0.1:5433 and left running
# (as the local server is) for the next run. Tests read TEST_DATABASE_READ_URL, else that replica; where
# TEST_DATABASE_READ_URL is set (docker-compose.test.yml, CI), the replica is someone else's to run and
# this only checks that it answers as one.
set -euo pipefail

port=5433
url="${TEST_DATABASE_READ_URL:-postgresql://postgres@127.0.0.1:${port}/postgres}"
libpq_url="${url/postgresql+psycopg:/postgresql:}"
primary="postgresql://postgres@127.0.0.1:5432/postgres"
replica_dir=/var/tmp/servicekit-test-replica

in_recovery() { [ "$(psql "$libpq_url" -XAtqc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]; }

if [ -n "${TEST_DATABASE_READ_URL:-}" ]; then
  # A replica service copies its primary before it answers: give it a minute.
  for _ in $(seq 60); do in_recovery && break; sleep 1; done
fi

if in_recovery; then
  echo "test replica: streaming replica at ${libpq_url}"
  exit 0
fi
if [ -n "${TEST_DATABASE_READ_URL:-}" ] || [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "test replica: no streaming replica answers at ${libpq_url}; start one or set TEST_DATABASE_READ_URL" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "test replica: making one needs root (it runs a second cluster as the postgres user)" >&2
  exit 1
fi

major=$(psql "$primary" -XAtqc "SELECT current_setting('server_version_num')::int / 10000")
bin="/usr/lib/postgresql/${major}/bin"
as_postgres() { runuser -u postgres -- "$@"; }

# The primary lets a replica on this machine stream from it: replication connections are not covered
# by an `all` database line, so the local server's pg_hba.conf gets its own line once.
hba=$(psql "$primary" -XAtqc 'SHOW hba_file')
if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$hba"; then
  echo "test replica: letting 127.0.0.1 replicate from the local server (${hba})"
  echo "host replication all 127.0.0.1/32 trust" >>"$hba"
  psql "$primary" -XAtqc 'SELECT pg_reload_conf()' >/dev/null
fi

echo "test replica: copying the local server into ${replica_dir} and starting it on port ${port}"
if [ -f "${replica_dir}/postmaster.pid" ]; then
  as_postgres "${bin}/pg_ctl" -D "$replica_dir" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$replica_dir"
install -d -o postgres -g postgres -m 700 "$replica_dir"
as_postgres "${bin}/pg_basebackup" -d "$primary" -D "$replica_dir" -R -X stream -c fast
# Debian keeps a cluster's configuration outside its data directory, so the copy has none of its own.
cat >"${replica_dir}/postgresql.conf" <<CONF
port = ${port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
max_connections = 200
CONF
printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' >"${replica_dir}/pg_hba.conf"
chown postgres:postgres "${replica_dir}/postgresql.conf" "${replica_dir}/pg_hba.conf"
as_postgres "${bin}/pg_ctl" -D "$replica_dir" -l "${replica_dir}/server.log" -w start >/dev/null
for _ in $(seq 30); do in_recovery && break; sleep 1; done
if ! in_recovery; then
  echo "test replica: the replica did not start; see ${replica_dir}/server.log" >&2
  exit 1
fi
echo "test replica: streaming replica at ${libpq_url}"
