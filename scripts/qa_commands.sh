#!/usr/bin/env bash
# Quality gates, in the order that fails fastest. Settings live in pyproject.toml (the kit's and the
# example's own pyproject.toml for their types: each is a project of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin

$bin/black --check .
$bin/ruff check .
$bin/mypy
(cd servicekit && $bin/mypy)
(cd examples/minimal-service && $bin/mypy)
# Known vulnerabilities in the locked, installed packages.
# Under GitLab CI, a package the audit could not look up fails the job rather than passing unseen.
$bin/pip-audit --progress-spinner off --skip-editable ${GITLAB_CI:+--strict}
