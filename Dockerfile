# mostrod (TypeScript) — multi-stage image. Not exercised by CI (no Docker engine there).
# Build:  docker build -t mostrod .
# Run:    docker run -v "$PWD/docker/config:/config" mostrod      (first run writes /config/settings.toml and exits)
# Base: Node.js 24 LTS. On Node >= 22 the daemon loads better-sqlite3 13 (N-API prebuilds); the
# toolchain is only there because npm ci also compiles better-sqlite3 12 (the Node 20 driver,
# alias better-sqlite3-node20), which this image never loads (README "Supported Node.js versions").
FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 12 (Node 20 driver) compiles from source during npm ci
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-info.mjs scripts/bundle.mjs ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# MALLOC_ARENA_MAX: 2 glibc malloc arenas instead of 8 per core (about 8-10 MB less RSS after the
# bench's load in interleaved runs: docs/PERFORMANCE.md, session 17). MALLOC_MMAP_THRESHOLD_: blocks
# of 128 KiB and more returned to the kernel when freed, the threshold fixed there (not lower: each
# socket read takes a 64 KiB buffer; src/malloc-env.ts, docs/PERFORMANCE.md session 26)
ENV NODE_ENV=production MOSTROD_LOG_LEVEL=info MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
RUN useradd --create-home --uid 10001 mostro && mkdir /config && chown mostro /config
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json settings.tpl.toml ./
# The container's settings template turns the operator HTTP listener on (metrics and the
# HEALTHCHECK below); publish or scrape port 9464 on a private network only.
RUN printf '\n[http]\nenabled = true\nlisten_address = "0.0.0.0"\nport = 9464\n' >> settings.tpl.toml
COPY migrations ./migrations
COPY proto ./proto
USER mostro
EXPOSE 9464
# Healthy = /readyz answers 200 (DB writable, a relay connected, LND up). The probe reads [http]
# from /config/settings.toml; a settings file made before the listener existed needs
# `[http] enabled = true` (listen_address "0.0.0.0") added, or the container stays unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["node", "/app/dist/tools/readyz-probe.js", "-d", "/config"]
VOLUME ["/config"]
# --no-short-builtin-calls: V8 does not map its builtins a second time into the main isolate's code
# range (about 1 MB less RSS; the daemon sets it itself for its threads: src/v8-memory.ts)
ENTRYPOINT ["node", "--no-short-builtin-calls", "/app/dist/main.js"]
CMD ["-d", "/config"]
