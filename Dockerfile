# syntax=docker/dockerfile:1
# The Chaos Cypher backup service. Build: docker compose build; run: docker compose up -d (see compose.yaml).

# Build stage: the production install, exactly as test/ops/production-install.test.ts runs it on a checkout.
FROM node:20-bookworm-slim AS build
# npm ci builds better-sqlite3 from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN sh scripts/production-install.sh

# Runtime stage: the built tree with its production dependencies only (no dev dependency, no TypeScript loader), as an unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    CHAOSCYPHER_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/drizzle ./drizzle
RUN ln -s /app/bin/chaoscypher.js /usr/local/bin/chaoscypher \
 && mkdir -p /data \
 && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/api/v1/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: requests finish (CHAOSCYPHER_SHUTDOWN_TIMEOUT_MS, 20 s), databases close, exit 0.
STOPSIGNAL SIGTERM
CMD ["chaoscypher", "serve"]
