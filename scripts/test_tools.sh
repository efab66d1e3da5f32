#!/usr/bin/env bash
# Makes sure the programs the tests drive are here, installing Debian's package for each one missing:
# Chromium for the browser tests (Playwright's own browser download cannot reach its host from here, nor
# from most CI runners' locked-down networks), curl for the README's command as printed, jq for
# scripts/register_entra_app.sh, psql for scripts/test_database.sh and test_replica.sh (a CI image of
# Python's has none).
set -euo pipefail

declare -A package=([chromium]=chromium [curl]=curl [jq]=jq [psql]=postgresql-client)
missing=()
for program in "${!package[@]}"; do
  command -v "$program" >/dev/null || missing+=("${package[$program]}")
done
if [ ${#missing[@]} = 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "test tools: missing ${missing[*]}; install Debian's packages of that name" >&2
  exit 1
fi
echo "test tools: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
