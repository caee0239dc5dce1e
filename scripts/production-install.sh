#!/bin/sh
# The production install, as the Dockerfile runs it and test/ops/production-install.test.ts checks it:
# the locked dependencies, the build (which needs the dev dependencies), then the dev dependencies removed.
# `npm ci` builds better-sqlite3 from source when its prebuilt binary cannot be downloaded: python3, make, g++.
set -eu
cd "${1:-.}"
npm ci --no-audit --no-fund --prefer-offline
npm run build
# TypeScript is also a peer of @trpc/server (for its types only); without legacy peers it would stay.
npm prune --omit=dev --legacy-peer-deps --no-audit --no-fund
