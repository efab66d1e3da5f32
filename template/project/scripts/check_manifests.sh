#!/usr/bin/env bash
# Renders each overlay of deploy/ with kustomize (kubectl's) and validates every object against the
# Kubernetes API's schemas, offline and strictly (kubernetes-validate: an unknown field fails too).
# `scripts/check_manifests.sh render production` prints one overlay as rendered (the tests read it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin
# The API version the schemas are taken from: the oldest EKS version we deploy to.
kubernetes_version=1.32.0

# kubectl renders the overlays. Where it is missing (a CI image of Python's), its pinned release is
# fetched once into .cache/ from Kubernetes' own download site and checked against the SHA-256 published there.
kubectl=$(command -v kubectl || true)
if [ -z "$kubectl" ]; then
  kubectl=$PWD/.cache/kubectl-v${kubernetes_version}
  if [ ! -x "$kubectl" ]; then
    url="https://dl.k8s.io/release/v${kubernetes_version}/bin/linux/amd64/kubectl"
    echo "manifests: fetching kubectl v${kubernetes_version}" >&2
    mkdir -p .cache
    curl -fsSLo "$kubectl.part" "$url"
    echo "$(curl -fsSL "$url.sha256")  $kubectl.part" | sha256sum --check --quiet
    chmod +x "$kubectl.part"
    mv "$kubectl.part" "$kubectl"
  fi
fi

if [ "${1:-}" = render ]; then
  exec "$kubectl" kustomize "deploy/overlays/${2:?which overlay}"
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in deploy/overlays/*/; do
  name=$(basename "$overlay")
  "$kubectl" kustomize "$overlay" >"$rendered/$name.yaml"
  "$bin"/kubernetes-validate --strict --quiet --kubernetes-version "$kubernetes_version" "$rendered/$name.yaml"
  echo "manifests: $name renders and validates against Kubernetes ${kubernetes_version}"
done
