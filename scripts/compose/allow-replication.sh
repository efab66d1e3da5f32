#!/usr/bin/env bash
# Run once by the postgis image's entrypoint when it creates the test server (docker-compose.test.yml):
# lets a streaming replica (postgis-replica) connect, which an `all` database line does not cover.
# No `set -u`: the entrypoint sources this file instead of running it when it is not executable.
echo "host replication all all trust" >>"${PGDATA}/pg_hba.conf"
