#!/usr/bin/env bash
# The postgis-replica service of docker-compose.test.yml: a hot standby of the postgis service. It waits
# for the primary to answer over the network (it does only once its initialisation is done), copies it
# with pg_basebackup (-R: the copy follows the primary) and serves that copy as the postgres user.
set -euo pipefail

primary=postgis
data=/var/lib/postgresql/replica

until pg_isready -h "$primary" -U postgres -q; do sleep 1; done
if [ ! -s "$data/PG_VERSION" ]; then
  rm -rf "$data"
  install -d -o postgres -g postgres -m 700 "$data"
  gosu postgres pg_basebackup -h "$primary" -U postgres -D "$data" -R -X stream -c fast
fi
exec gosu postgres postgres -D "$data" -c listen_addresses='*' -c hot_standby=on
