#!/bin/sh
# Renders nginx.conf.template (as src/edge/nginx.ts does for `npm run edge`) into a private prefix and runs
# nginx in the foreground. `-t` only checks the rendered config.
set -eu
template="${EDGE_TEMPLATE:-/etc/chaoscypher/nginx.conf.template}"
prefix="${EDGE_PREFIX:-/tmp/chaoscypher-edge}"
listen="${EDGE_LISTEN:-0.0.0.0:8088}"
upstream="${CHAOSCYPHER_UPSTREAM:-chaoscypher:8080}"
access_log="${EDGE_ACCESS_LOG:-/dev/stdout}"
address='^[][A-Za-z0-9.:-]+:[0-9]{1,5}$'
for value in "$listen" "$upstream"; do
  if ! printf '%s' "$value" | grep -Eq "$address"; then
    echo "edge: expected host:port, got \"$value\"" >&2
    exit 1
  fi
done
mkdir -p "$prefix/tmp"
sed -e "s|{{LISTEN}}|$listen|g" -e "s|{{UPSTREAM}}|$upstream|g" -e "s|{{ACCESS_LOG}}|$access_log|g" \
  "$template" >"$prefix/nginx.conf"
nginx="${NGINX_BIN:-nginx}"
if [ "${1:-}" = "-t" ]; then
  exec "$nginx" -t -q -p "$prefix" -c "$prefix/nginx.conf" -e stderr
fi
exec "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e stderr -g "daemon off;"
