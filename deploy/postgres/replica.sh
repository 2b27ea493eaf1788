#!/usr/bin/env bash
# The `postgres-replica` service (docker-compose.yml, profile `replica`): a hot
# standby of the `postgres` service, which `pdns-replica` reads. On an empty
# volume it copies the primary with pg_basebackup (a replication slot keeps the
# WAL it has not received yet, so it can fall behind without losing its
# place), then runs as a streaming standby: read-only, a few milliseconds
# behind. README "Growing past one machine".
#
# To copy the primary again, remove the volume and the slot:
#   docker compose exec postgres psql -U postgres -c "select pg_drop_replication_slot('mydns_replica')"
set -euo pipefail

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready --quiet --host=postgres --username=replicator --dbname=postgres; do
    echo "replica: waiting for the primary"
    sleep 2
  done
  # The password comes from PGPASSWORD (the compose file); --write-recovery-conf
  # makes this a standby that follows the primary through the slot.
  pg_basebackup --host=postgres --username=replicator --pgdata="$PGDATA" \
    --wal-method=stream --checkpoint=fast --write-recovery-conf \
    --create-slot --slot=mydns_replica
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on
