#!/usr/bin/env bash
# A typed Python client package generated from an OpenAPI document by openapi-python-client, run from its
# own pinned environment (scripts/client-gen/requirements.txt), made here on first use:
#
#     scripts/generate_client.sh SPEC CONFIG OUTPUT [TEMPLATES]
#
# TEMPLATES overrides some of the generator's own (clients/templates: Directmail's streamed download). A
# warning from the generator fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=$1 config=$2 output=$3 templates=${4:-}

tools=scripts/client-gen/.venv
if [[ ! -f $tools/.installed || scripts/client-gen/requirements.txt -nt $tools/.installed ]]; then
    ${PYTHON:-python3} -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check -r scripts/client-gen/requirements.txt
    touch "$tools/.installed"
fi
# Its post-hooks format the code with the ruff on PATH: the pinned one.
PATH="$PWD/$tools/bin:$PATH" "$tools/bin/openapi-python-client" generate \
    --path "$spec" --config "$config" ${templates:+--custom-template-path "$templates"} \
    --meta uv --output-path "$output" --overwrite --fail-on-warning
rm -rf "$output/.ruff_cache"
