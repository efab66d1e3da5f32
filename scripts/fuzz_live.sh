#!/usr/bin/env bash
# Fuzz a running Directmail with schemathesis's own command line (`st run`), not the project's tests:
# requests generated from the /openapi.json the service serves, with a token, within a bounded budget.
# Every default check applies (no 5xx; status, content type, headers and body as the spec declares
# them; invalid input refused; no answer without the token). Exits non-zero on any failure.
#
#   FUZZ_TOKEN=$(.venv/bin/python run.py token) scripts/fuzz_live.sh http://127.0.0.1:8080
#
# FUZZ_TOKEN: an access token granting Directmail.Read (read from the environment, never put on a
# command line). FUZZ_MAX_EXAMPLES (default 50) and FUZZ_SEED (default fixed) bound and repeat the run.
set -euo pipefail
cd "$(dirname "$0")/.."

url=${1:?usage: FUZZ_TOKEN=<token> $0 <service URL, e.g. http://127.0.0.1:8080>}
url=${url%/}
: "${FUZZ_TOKEN:?set FUZZ_TOKEN to an access token granting Directmail.Read (locally: python run.py token)}"
export FUZZ_TOKEN

python=$PWD/.venv/bin/python
# A token the service refuses would leave only its 401s to test.
"$python" - "$url/me" <<'PY'
import os, sys

import requests

answer = requests.get(sys.argv[1], headers={"Authorization": f"Bearer {os.environ['FUZZ_TOKEN']}"}, timeout=30)
if answer.status_code != 200:
    sys.exit(f"GET {sys.argv[1]} with FUZZ_TOKEN answers {answer.status_code}, not 200: {answer.text[:300]}")
PY

config=$(mktemp --suffix=.toml)
trap 'rm -f "$config"' EXIT
# A request the schema allows can still break a rule the schema cannot express (a community that does
# not exist, dates that leave no day between them): the spec documents those 400s on the two filtering
# operations, so the positive-data check expects them there. tests/test_fuzz.py holds the same settings.
cat >"$config" <<'TOML'
[cache]
enabled = false

[generation]
database = "none"

[headers]
Authorization = "Bearer ${FUZZ_TOKEN}"

[[operations]]
include-operation-id = "app.api.get_directmail_csv"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]

[[operations]]
include-operation-id = "app.api.get_directmail_summary"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]
TOML

"${ST:-$PWD/.venv/bin/st}" --config-file "$config" run "$url/openapi.json" \
    --url "$url" \
    --max-examples "${FUZZ_MAX_EXAMPLES:-50}" \
    --seed "${FUZZ_SEED:-20261128}" \
    --generation-deterministic \
    --request-timeout 60 \
    --no-color
