#!/usr/bin/env bash
# MyDNS: creates the PowerDNS and MyDNS roles and databases and loads the
# PowerDNS schema. The official postgres image runs *.sh files in
# /docker-entrypoint-initdb.d once, on an empty data volume; later starts skip
# them, so a password changed in .env afterwards must be changed in Postgres
# too (ALTER ROLE; see README "Deploying with docker compose").
#
# The SQL sits in sql/ beside this script (the image ignores sub-folders there),
# so that test/integration/compose-topology.test.ts runs the same statements.
# The image may run this file or source it: no `exit`, no `set -u`.
set -eo pipefail

sql="$(dirname "${BASH_SOURCE[0]}")/sql"

psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set pdns_user=pdns --set pdns_db=pdns --set pdns_password="${PDNS_DB_PASSWORD:?is not set}" \
  --set app_user=mydns --set app_db=mydns --set app_password="${MYDNS_DB_PASSWORD:?is not set}" \
  --file "$sql/roles.sql"

# As the pdns role, so that PowerDNS owns its tables; then MyDNS's triggers that
# keep the NSEC3 order names across a PATCH (docs/dnssec.md, "Kept order names").
PGPASSWORD="$PDNS_DB_PASSWORD" psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username pdns --dbname pdns \
  --file "$sql/pdns-schema.pgsql.sql" --file "$sql/pdns-keep-ordernames.pgsql.sql"

# The `replica` profile (README "Growing past one machine"): a role that may
# stream the WAL to the hot standby, and only that. Without the password in
# .env no such role exists; to add the profile to a volume initialised before,
# run these two steps by hand (CREATE ROLE …, the pg_hba.conf line, then
# `docker compose restart postgres`).
if [ -n "${POSTGRES_REPLICATION_PASSWORD:-}" ]; then
  psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set replication_role=replicator --set replication_password="$POSTGRES_REPLICATION_PASSWORD" \
    --file "$sql/replication.sql"
  echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
