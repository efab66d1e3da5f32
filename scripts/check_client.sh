#!/usr/bin/env bash
# Fails when the committed client is not what `make client` makes of the spec now.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
scripts/generate_client.sh api-spec.yml client-gen-config.json "$fresh/directmail-client" clients/templates >/dev/null
if ! diff -r "$fresh/directmail-client" clients/directmail-client; then
    echo "clients/directmail-client is stale against api-spec.yml: run make client" >&2
    exit 1
fi
