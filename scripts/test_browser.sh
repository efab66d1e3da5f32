#!/usr/bin/env bash
# Makes sure the browser tests have a browser: Debian's Chromium, installed when missing (Playwright's
# own browser download cannot reach its host from here, nor from most CI runners' locked-down networks).
set -euo pipefail

if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser tests: Chromium is missing; install Debian's chromium package" >&2
  exit 1
fi
echo "browser tests: installing chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
