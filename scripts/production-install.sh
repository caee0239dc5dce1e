#!/bin/sh
# The production install, as the Dockerfile runs it and test/ops/production-install.test.ts checks it:
# the locked dependencies and the build (which needs the dev dependencies), then the locked production
# dependencies alone, installed afresh (no dev dependency, no TypeScript loader is left behind).
# `npm ci` builds better-sqlite3 from source when its prebuilt binary cannot be downloaded: python3, make, g++.
# CHAOSCYPHER_BUILD_MODULES: a node_modules installed by `npm ci` from this same lockfile, used for the build
# instead of installing every dependency again (the test suite passes the checkout's own).
set -eu
cd "${1:-.}"
if [ -n "${CHAOSCYPHER_BUILD_MODULES:-}" ]; then
  ln -s "$CHAOSCYPHER_BUILD_MODULES" node_modules
else
  npm ci --no-audit --no-fund --prefer-offline
fi
npm run build
rm -rf node_modules
# TypeScript is also a peer of @trpc/server (for its types only); without legacy peers it would be installed.
npm ci --omit=dev --legacy-peer-deps --no-audit --no-fund --prefer-offline
