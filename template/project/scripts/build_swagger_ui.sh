#!/usr/bin/env bash
# Builds swagger-ui/build, the folder the service serves at /ui/: swagger-ui-dist from the npm registry, as
# swagger-ui/package-lock.json pins it, with our page, plugins and styles (swagger-ui/src) beside it.
set -euo pipefail
cd "$(dirname "$0")/../swagger-ui"
npm ci --no-audit --no-fund --loglevel=error
rm -rf build
mkdir build
dist=node_modules/swagger-ui-dist
cp "$dist"/{swagger-ui-bundle.js,swagger-ui.css,oauth2-redirect.html,oauth2-redirect.js,favicon-32x32.png} build/
cp src/* build/
touch build/.built
