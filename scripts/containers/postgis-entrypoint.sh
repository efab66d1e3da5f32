#!/usr/bin/env bash
# /usr/local/bin/docker-entrypoint.sh of the postgis/postgis:15-3.5 stand-in (scripts/containers/stand_in_bases.sh):
# the part of the official postgres image's entrypoint that our compose files rely on. POSTGRES_USER (the
# initdb superuser, default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default: the user), and
# POSTGRES_HOST_AUTH_METHOD (default scram-sha-256) take effect on the first start, when PGDATA is empty; then
# /docker-entrypoint-initdb.d/*.sh and *.sql run against a server that listens on its socket only.
set -euo pipefail

# Options alone are the server's (the image's CMD is ["postgres"]); any other command runs as given, as the
# replica service's own script does.
if [ $# -eq 0 ] || [[ $1 == -* ]]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi
shift

# Started as root: a volume or tmpfs mounted over PGDATA comes owned by root, and /run may be fresh too.
# Then the rest again as postgres, which owns the cluster and runs the init scripts, as in the official image.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  exec gosu postgres "$0" postgres "$@"
fi

export POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-}
POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

run_init_files() {
  local f
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh)
        echo "$0: running $f"
        # Sourced when not executable, as the official entrypoint does (whose shell has no `set -u`).
        if [ -x "$f" ]; then
          "$f"
        else
          set +u
          # shellcheck source=/dev/null
          . "$f"
          set -u
        fi
        ;;
      *.sql)
        echo "$0: running $f"
        psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f"
        ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
}

initialise() {
  # The official image refuses to open a password-less superuser to the network unless told to trust.
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "$0: PGDATA is empty and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  if [ -n "$POSTGRES_PASSWORD" ]; then
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
  else
    initdb --username="$POSTGRES_USER"
  fi
  printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  # Socket only: nothing outside sees the server (nor its health check succeed) before it is ready.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d postgres --set db="$POSTGRES_DB" \
      <<<'CREATE DATABASE :"db";'
  fi
  run_init_files
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "$0: PostgreSQL initialised in $PGDATA"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initialise
fi
exec postgres -c listen_addresses='*' "$@"
