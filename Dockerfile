# Keyport server image. Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-slim

ENV NODE_ENV=production \
    KEYPORT_HOST=0.0.0.0 \
    KEYPORT_PORT=3000
WORKDIR /app

COPY package.json package-lock.json ./
# Production dependencies only: the image's own Node 24 runs Keyport. No scripts:
# `prepare` builds the resource-server kit (keyport/verify) for other projects,
# with the TypeScript compiler, a dev dependency; the server does not use that build.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY config ./config
COPY src ./src
COPY views ./views

USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "src/main.ts"]
