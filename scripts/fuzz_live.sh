#!/usr/bin/env bash
# Fuzz a running Directmail with schemathesis's own command line (`st run`), not the project's tests:
# requests generated from the /openapi.json the service serves, with a token, within a bounded budget.
# Every default check applies (no 5xx; status, content type, headers and body as the spec declares
# them; invalid input refused; no answer without the token), and tests/fuzz/'s documented_rule; the
# settings are tests/fuzz/schemathesis.toml, which tests/test_fuzz.py reads too. Exits non-zero on any
# failure.
#
#   scripts/fuzz_live.sh http://127.0.0.1:8080                           # `make run`'s service
#   FUZZ_TOKEN=<token> scripts/fuzz_live.sh https://directmail.example   # any other
#
# FUZZ_TOKEN: an access token granting Directmail.Read (read from the environment, never put on a
# command line). Unset, and the URL on loopback, the script makes a local dev login's token (`run.py
# token`), which only a service running with ENVIRONMENT=local accepts, as `make run`'s does.
# FUZZ_MAX_EXAMPLES (default 50) and FUZZ_SEED (default the config's) bound and repeat the run.
set -euo pipefail
cd "$(dirname "$0")/.."

url=${1:?usage: [FUZZ_TOKEN=<token>] $0 <service URL, e.g. http://127.0.0.1:8080>}
url=${url%/}
python=$PWD/.venv/bin/python

# What to say when the service refuses the token.
refused="FUZZ_TOKEN must grant Directmail.Read on this service"
if [[ -z ${FUZZ_TOKEN:-} ]]; then
    if [[ ! $url =~ ^https?://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?$ ]]; then
        echo "$0: set FUZZ_TOKEN to an access token granting Directmail.Read for $url" >&2
        exit 2
    fi
    FUZZ_TOKEN=$(ENVIRONMENT=local "$python" run.py token)
    refused="a local dev login's token: only a service running with ENVIRONMENT=local (make run) accepts it"
fi
export FUZZ_TOKEN

# A token the service refuses would leave only its 401s to test.
"$python" - "$url/me" "$refused" <<'PY'
import os, sys

import requests

answer = requests.get(sys.argv[1], headers={"Authorization": f"Bearer {os.environ['FUZZ_TOKEN']}"}, timeout=30)
if answer.status_code != 200:
    sys.exit(f"GET {sys.argv[1]} answers {answer.status_code}, not 200 ({sys.argv[2]}): {answer.text[:300]}")
PY

# schemathesis reads one config file: the shared one, and the token header only this runner sends (taken
# from the environment by schemathesis, so that it is on no command line).
config=$(mktemp --suffix=.toml)
trap 'rm -f "$config"' EXIT
cat tests/fuzz/schemathesis.toml - >"$config" <<'TOML'

[headers]
Authorization = "Bearer ${FUZZ_TOKEN}"
TOML

"${ST:-$PWD/.venv/bin/st}" --config-file "$config" run "$url/openapi.json" \
    --url "$url" \
    --max-examples "${FUZZ_MAX_EXAMPLES:-50}" \
    ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
    --request-timeout 60 \
    --no-color
