#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin

# Known vulnerabilities in the locked, installed packages, looked up in PyPI's vulnerability data (its
# JSON API, a release at a time). Under GitLab CI the audit always runs, and a package it could not look
# up fails the job rather than passing unseen. Elsewhere, when that API cannot answer (offline, a proxy
# or a mirror in the way: then every package goes unaudited and the audit would pass), it says plainly
# that it was skipped, and the other gates still count.
audit_service=https://pypi.org/pypi
# Why pip-audit cannot look a release up there, or nothing when it can: asked as pip-audit asks, with
# its HTTP client (the same proxy settings and certificates), for pip-audit's own release.
audit_service_fails() {
    "$bin"/python - "$audit_service" <<'PY'
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
# The installed packages, pinned, but for the kit: it comes from the company's package registry, which PyPI's
# vulnerability data knows nothing of (and a package of its name on PyPI would be another's). Its own
# dependencies are installed, so they are audited.
audited_packages() {
    "$bin"/pip freeze --all --exclude-editable --exclude gigaclear-servicekit
}
audit() {
    "$bin"/pip-audit --progress-spinner off --no-deps --disable-pip --requirement <(audited_packages) "$@"
}
if [[ -n ${GITLAB_CI:-} ]]; then
    audit --strict
elif why=$(audit_service_fails) && [[ -n $why ]]; then
    echo "pip-audit: skipped, cannot reach PyPI's vulnerability service ($why)"
else
    audit
fi
