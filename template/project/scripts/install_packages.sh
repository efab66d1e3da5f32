#!/usr/bin/env bash
# Installs Debian packages a make target needs, as root with apt-get; anyone else is told what to install.
#   scripts/install_packages.sh WHO PACKAGE...    (WHO names the target in the messages)
set -euo pipefail

who=$1
shift
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "${who}: missing $*; install Debian's packages of that name" >&2
  exit 1
fi
echo "${who}: installing $*"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
