#!/usr/bin/env bash
# Validates docker-compose.yml with Debian's docker-compose 1.29 (and with
# Compose v2 too where `docker compose` exists), .env.example standing in for
# .env. Docker engines do not run here, so this is `config`, not `up`:
# interpolation, the schema, profiles, and the files the services mount.
# It works on a copy in a temporary folder, so a developer's own .env in the
# checkout never takes part. Called by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v docker-compose >/dev/null; then
  echo "check-compose: docker-compose is missing: apt-get install --no-install-recommends docker-compose" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -R "$root/docker-compose.yml" "$root/Dockerfile" "$root/.dockerignore" "$root/pdns" "$root/deploy" "$tmp/"
cp "$root/.env.example" "$tmp/.env"

compose() { docker-compose --project-directory "$tmp" --file "$tmp/docker-compose.yml" --profile https "$@"; }
fail() {
  echo "check-compose: $*" >&2
  exit 1
}

docker-compose --version
compose config --quiet || fail "docker-compose.yml does not validate with .env.example as .env"
# Without the profile too: that is what a plain `docker compose up` reads.
docker-compose --project-directory "$tmp" --file "$tmp/docker-compose.yml" config --quiet ||
  fail "docker-compose.yml does not validate without the https profile"

services="$(compose config --services | sort | paste -sd " " -)"
# docker-compose 1.29 lists the services of every profile.
[ "$services" = "api caddy migrate pdns pdns-replica postgres postgres-replica smtp-relay" ] ||
  fail "unexpected services: $services"

# The replica profile: a hot standby and a PowerDNS on it (README "Growing past one machine").
replica() { docker-compose --project-directory "$tmp" --file "$tmp/docker-compose.yml" --profile replica "$@"; }
echo "POSTGRES_REPLICATION_PASSWORD=change-me" >>"$tmp/.env"
replica config --quiet || fail "docker-compose.yml does not validate with the replica profile"
replicaConfig="$(replica config)"
grep -qF -- "- $tmp/pdns/pdns-replica.conf:/etc/powerdns/pdns.conf:ro" <<<"$replicaConfig" ||
  fail "pdns-replica does not mount pdns/pdns-replica.conf"
grep -qF -- "- $tmp/deploy/postgres/replica.sh:" <<<"$replicaConfig" ||
  fail "postgres-replica does not mount deploy/postgres/replica.sh"
cp "$root/.env.example" "$tmp/.env"

# Every file or folder a service mounts from the checkout exists.
config="$(compose --profile replica config)"
sources="$(grep -oE -- "- $tmp/[^:]+:" <<<"$config" | sed -E "s|^- ||; s|:$||")"
[ -n "$sources" ] || fail "found no mounted files in the config"
for source in $sources; do
  [ -e "$source" ] || fail "a service mounts ${source#"$tmp/"}, which does not exist"
done

# No secret has a default: without it in .env, compose refuses to start.
for secret in POSTGRES_PASSWORD MYDNS_DB_PASSWORD PDNS_DB_PASSWORD PDNS_API_KEY; do
  grep -v "^$secret=" "$root/.env.example" >"$tmp/.env"
  if output="$(compose config --quiet 2>&1)"; then
    fail "docker-compose.yml starts without $secret"
  fi
  grep -q "set $secret in .env" <<<"$output" || fail "without $secret, compose said: $output"
done
cp "$root/.env.example" "$tmp/.env"

if docker compose version >/dev/null 2>&1; then
  docker compose --project-directory "$tmp" --file "$tmp/docker-compose.yml" --profile https config --quiet ||
    fail "docker-compose.yml does not validate with Compose v2"
  echo "check-compose: Compose v2 accepts it too"
fi
echo "check-compose: docker-compose.yml is valid ($services)"
