-- The two roles and databases of the compose deployment, each role owning its
-- own database and nothing else. Run once by ../10-mydns.sh as the superuser;
-- test/integration/compose-topology.test.ts runs this same file under names of
-- its own. Plain statements with psql variables only (no meta-commands):
--   :pdns_user :pdns_password :pdns_db   PowerDNS's gpgsql backend (pdns/pdns.conf)
--   :app_user  :app_password  :app_db    MyDNS (migrate, api, smtp-relay)

CREATE ROLE :"pdns_user" LOGIN PASSWORD :'pdns_password';
CREATE DATABASE :"pdns_db" OWNER :"pdns_user";

CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";

-- Every role may connect to a new database by default; keep each role to its own.
REVOKE ALL ON DATABASE :"pdns_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
