-- The role the hot standby of the `replica` profile streams the WAL with
-- (deploy/postgres/replica.sh); run once by ../10-mydns.sh as the superuser
-- when POSTGRES_REPLICATION_PASSWORD is set. It has no rights on any database:
-- REPLICATION lets it stream the whole cluster's WAL, which is all a standby needs.
--   :replication_role :replication_password

CREATE ROLE :"replication_role" LOGIN REPLICATION PASSWORD :'replication_password';
