# Kring API image: compiled JavaScript on Node 22, production dependencies only, non-root.
#   docker build -t kring .
#   docker run --rm -p 3000:3000 -e JWT_SECRET=... -e DATABASE_URL=postgres://... kring

# --- build: compile TypeScript (tsc -p tsconfig.build.json → dist/src/**) ---
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime ---
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/.data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# src/db/migrate.ts looks for migrations at ../../migrations/ relative to itself: from
# dist/src/db/migrate.js that is dist/migrations/, so the SQL files go there.
COPY migrations ./dist/migrations
# Only the data folder is writable by the service (embedded PGlite when DATABASE_URL is unset).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# Ready means the database answers and every migration is applied. Embedded PGlite needs
# several seconds to initialise on first start, hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/server.js"]
