# mostrod (TypeScript) — multi-stage image. Not exercised by CI (no Docker engine there).
# Build:  docker build -t mostrod .
# Run:    docker run -v "$PWD/docker/config:/config" mostrod      (first run writes /config/settings.toml and exits)
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-info.mjs ./scripts/build-info.mjs
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production MOSTROD_LOG_LEVEL=info
RUN useradd --create-home --uid 10001 mostro && mkdir /config && chown mostro /config
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json settings.tpl.toml ./
COPY migrations ./migrations
COPY proto ./proto
USER mostro
VOLUME ["/config"]
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["-d", "/config"]
