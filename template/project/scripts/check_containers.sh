#!/usr/bin/env bash
# The container files, offline: the Dockerfile by hadolint (its settings in .hadolint.yaml), both compose
# files against the Compose Specification's schema as check-jsonschema carries it (no download).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin

"$bin/hadolint" --config .hadolint.yaml Dockerfile
"$bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml docker-compose.test.yml
