# syntax=docker/dockerfile:1
# Production image: compiled JavaScript, production dependencies only, run as the unprivileged `node` user.
# It expects DATABASE_URL and STAN_URL (see docker-compose.yml): the embedded servers are for development only.

FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund --ignore-scripts && npx patch-package
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schema ./schema
RUN npm run build

FROM node:26-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Install scripts off (no dependency needs one in production); our patch to the postgres driver is applied explicitly.
# --omit=optional keeps TypeScript out: it is an optional peer of valibot, so the lockfile marks it devOptional,
# which --omit=dev alone keeps. No production dependency is optional; test/production checks what is installed.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund --ignore-scripts && npx patch-package

FROM node:26-bookworm-slim
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8000
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY sql ./sql
COPY schema ./schema
COPY static ./static
COPY bin ./bin
USER node
EXPOSE 8000
# The port the service listens on: HTTP_PORT as the container is configured (docker run -e HTTP_PORT=...).
# It asks 127.0.0.1, a Host always allowed; clients reaching the container by another name need it in ALLOWED_HOSTS.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 here: it handles SIGTERM itself (graceful shutdown: the batch in flight is committed and acked).
CMD ["node", "dist/src/main.js"]
