#!/usr/bin/env bash
# Makes sure the programs the tests drive are here, installing Debian's package for each one missing:
# curl and jq for scripts/register_entra_app.sh, psql for scripts/test_database.sh (a CI image of Python's
# has none).
set -euo pipefail

declare -A package=([curl]=curl [jq]=jq [psql]=postgresql-client)
missing=()
for program in "${!package[@]}"; do
  command -v "$program" >/dev/null || missing+=("${package[$program]}")
done
if [ ${#missing[@]} = 0 ]; then
  exit 0
fi
exec "$(dirname "$0")/install_packages.sh" "test tools" "${missing[@]}"
