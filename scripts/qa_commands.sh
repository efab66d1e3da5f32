#!/usr/bin/env bash
# Quality gates, in the order that fails fastest. Settings live in pyproject.toml (the kit's and the
# example's own pyproject.toml for their types: each is a project of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin

$bin/black --check .
$bin/ruff check .
$bin/mypy
(cd servicekit && $bin/mypy)
(cd examples/minimal-service && $bin/mypy)
# The specs as OpenAPI documents, by Redocly CLI's recommended rules (scripts/lint-spec/redocly.yaml).
scripts/lint-spec/node_modules/.bin/redocly lint --format stylish --config scripts/lint-spec/redocly.yaml \
    api-spec.yml examples/minimal-service/api-spec.yml
# The committed client is what `make client` makes of the spec now.
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
scripts/generate_client.sh api-spec.yml client-gen-config.json "$fresh/directmail-client" clients/templates >/dev/null
if ! diff -r "$fresh/directmail-client" clients/directmail-client; then
    echo "clients/directmail-client is stale against api-spec.yml: run make client" >&2
    exit 1
fi
# Known vulnerabilities in the locked, installed packages, looked up in PyPI's vulnerability data (its
# JSON API, a release at a time). Under GitLab CI the audit always runs, and a package it could not look
# up fails the job rather than passing unseen. Elsewhere, when that API cannot answer (offline, a proxy
# or a mirror in the way: then every package goes unaudited and the audit would pass), it says plainly
# that it was skipped, and the other gates still count.
audit_service=https://pypi.org/pypi
# Why pip-audit cannot look a release up there, or nothing when it can: asked as pip-audit asks, with
# its HTTP client (the same proxy settings and certificates), for pip-audit's own release.
audit_service_fails() {
    $bin/python - "$audit_service" <<'PY'
import sys
from importlib.metadata import version

import requests

url = f"{sys.argv[1]}/pip-audit/{version('pip-audit')}/json"
try:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    response.json()["vulnerabilities"]
except requests.HTTPError as exc:
    print(f"{url} answers {exc.response.status_code}")
except (requests.RequestException, ValueError, KeyError) as exc:
    print(f"{url}: {type(exc).__name__}")
PY
}
if [[ -n ${GITLAB_CI:-} ]]; then
    $bin/pip-audit --progress-spinner off --skip-editable --strict
elif why=$(audit_service_fails) && [[ -n $why ]]; then
    echo "pip-audit: skipped, cannot reach PyPI's vulnerability service ($why)"
else
    $bin/pip-audit --progress-spinner off --skip-editable
fi
