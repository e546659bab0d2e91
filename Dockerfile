# Junction: production image on the current Node LTS. Multi-stage: dependencies are installed in
# a throwaway stage (no dev dependencies, no npm cache); the runtime stage runs as the non-root
# `node` user with a HEALTHCHECK on /healthz.
FROM node:26-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:26-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=4000 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node schema ./schema
COPY --chown=node:node src ./src
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tsx runs the TypeScript sources directly (no separate build output to drift from src/).
CMD ["node", "--import", "tsx", "src/main.ts"]
