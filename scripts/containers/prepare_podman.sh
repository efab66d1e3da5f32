#!/usr/bin/env bash
# Podman, ready to build and run our images where no Docker engine answers (this project's machines):
# Debian's podman with runc, settings this kind of host needs, and the base images our Dockerfile and
# compose files name, pulled where a registry answers, else built as stand-ins (stand_in_bases.sh).
#   scripts/containers/prepare_podman.sh [PACKAGE...]   also installs these Debian packages when missing
set -euo pipefail
here=$(dirname "$0")

# dnsname: compose's services find each other by name on podman's CNI networks.
packages=(podman buildah runc conmon fuse-overlayfs slirp4netns uidmap containernetworking-plugins
  golang-github-containernetworking-plugin-dnsname golang-github-containers-common catatonit iptables
  debootstrap "$@")
missing=()
for package in "${packages[@]}"; do
  dpkg-query --show --showformat='${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed ||
    missing+=("$package")
done
if [ ${#missing[@]} != 0 ]; then
  "$here/../install_packages.sh" "container engine" "${missing[@]}"
fi

# crun refuses these hosts' hybrid cgroups; podman's default limits on open files and processes are above
# what root may set here (the hard limit for files; for processes, seen to fail from 65536 up).
files=$(ulimit -Hn)
[ "$files" = unlimited ] && files=1048576
processes=4096
settings=/etc/containers/containers.conf.d/50-directmail-checks.conf
mkdir -p "$(dirname "$settings")"
cat >"$settings" <<EOF
# Written by $0: what podman needs on this host to run Directmail's image checks.
[containers]
default_ulimits = ["nofile=${files}:${files}", "nproc=${processes}:${processes}"]
[engine]
runtime = "runc"
EOF

# The bases, by the exact names our files give them: a real one where a registry answers in time.
bases=(docker.io/library/python:3.11.14-slim-bookworm docker.io/library/node:20.19.5-bookworm-slim
  docker.io/postgis/postgis:15-3.5)
absent=()
for base in "${bases[@]}"; do
  podman image exists "$base" || timeout 60 podman pull --quiet "$base" >/dev/null 2>&1 || absent+=("$base")
done
if [ ${#absent[@]} != 0 ]; then
  echo "container engine: no registry gave ${absent[*]}; building stand-ins"
  "$here/stand_in_bases.sh"
fi
