-- MyDNS: keeps a signed zone's NSEC3 order names across the PATCHes of the
-- PowerDNS API, so that only a PATCH that adds a name is rectified (docs/dnssec.md,
-- "Kept order names"). Loaded after PowerDNS's own schema into every gsqlite3
-- database the managed pdns_server creates (packages/powerdns/src/managed-server.ts);
-- deploy/postgres/initdb/sql/pdns-keep-ordernames.pgsql.sql is the same for gpgsql.
--
-- Why this is right:
-- - The order name of a name is derived from the name alone (NSEC3: the base32hex
--   hash of the name with the zone's NSEC3PARAM, RFC 5155; NSEC: the name itself),
--   never from the other names of the zone.
-- - A REPLACE in a PATCH deletes the rrset's rows and inserts the new ones with no
--   order name (GSQLBackend::replaceRRSet feeds them with an empty one), and with
--   API-RECTIFY off nothing writes it later: the name drops out of the NSEC3 chain.
--   The rows deleted here give the order name back to the rows inserted.
-- - A name this zone never held has no order name to give: the insert asks for a
--   rectify by setting the zone's API-RECTIFY to 1, which PowerDNS reads (uncached,
--   in the PATCH's own transaction) after the changes and after the SOA-EDIT-API
--   rewrite of the SOA, and then rectifies the zone before the commit.
-- - That SOA rewrite (every PATCH of a zone with SOA-EDIT-API, which MyDNS sets)
--   comes after the changes: it sets API-RECTIFY back to 0 unless an earlier row of
--   the same PATCH asked for a rectify. A PATCH of names the zone holds is thus not
--   rectified, and one that adds a name is, in its own transaction.
-- Changing a zone's NSEC3 parameters (`pdnsutil set-nsec3`) changes every order
-- name: forget the kept ones then (`DELETE FROM mydns_kept_ordernames`).

-- The order name of every name whose rows were deleted, by zone.
CREATE TABLE IF NOT EXISTS mydns_kept_ordernames (
  domain_id             INTEGER NOT NULL,
  name                  VARCHAR(255) NOT NULL,
  ordername             VARCHAR(255) NOT NULL,
  PRIMARY KEY (domain_id, name)
);

-- Zones whose current PATCH inserted a row with no order name to give.
CREATE TABLE IF NOT EXISTS mydns_rectify_asked (
  domain_id             INTEGER PRIMARY KEY
);

CREATE TRIGGER IF NOT EXISTS mydns_keep_ordername BEFORE DELETE ON records
WHEN OLD.ordername IS NOT NULL
BEGIN
  INSERT OR REPLACE INTO mydns_kept_ordernames (domain_id, name, ordername)
  VALUES (OLD.domain_id, OLD.name, OLD.ordername);
END;

-- SQLite cannot change NEW in a trigger: the row is updated right after its insert.
-- Empty non-terminals (type NULL) are the rectify's own rows and left to it.
CREATE TRIGGER IF NOT EXISTS mydns_give_ordername AFTER INSERT ON records
WHEN NEW.ordername IS NULL AND NEW.type IS NOT NULL
  AND EXISTS (SELECT 1 FROM cryptokeys WHERE domain_id = NEW.domain_id AND active)
BEGIN
  UPDATE records SET ordername = COALESCE(
    -- Another rrset of the same name (an AAAA added beside an A) ... The unary + keeps
    -- SQLite's planner off records_order_idx (domain_id, ordername), a scan of the zone
    -- per insert, and on records_lookup_id_idx (domain_id, name, type).
    (SELECT ordername FROM records
      WHERE domain_id = NEW.domain_id AND name = NEW.name AND +ordername IS NOT NULL LIMIT 1),
    -- ... or the rows a REPLACE has just deleted.
    (SELECT ordername FROM mydns_kept_ordernames WHERE domain_id = NEW.domain_id AND name = NEW.name))
  WHERE id = NEW.id;
  INSERT OR IGNORE INTO mydns_rectify_asked (domain_id)
  SELECT NEW.domain_id WHERE (SELECT ordername FROM records WHERE id = NEW.id) IS NULL;
  UPDATE domainmetadata SET content = '1'
  WHERE domain_id = NEW.domain_id AND kind = 'API-RECTIFY'
    AND EXISTS (SELECT 1 FROM mydns_rectify_asked WHERE domain_id = NEW.domain_id);
  INSERT INTO domainmetadata (domain_id, kind, content)
  SELECT NEW.domain_id, 'API-RECTIFY', '1'
  WHERE EXISTS (SELECT 1 FROM mydns_rectify_asked WHERE domain_id = NEW.domain_id)
    AND NOT EXISTS (SELECT 1 FROM domainmetadata WHERE domain_id = NEW.domain_id AND kind = 'API-RECTIFY');
END;

-- The SOA rewrite at the end of a PATCH: rectify this PATCH if, and only if, it asked.
CREATE TRIGGER IF NOT EXISTS mydns_rectify_when_asked AFTER INSERT ON records
WHEN NEW.type = 'SOA'
  AND EXISTS (SELECT 1 FROM cryptokeys WHERE domain_id = NEW.domain_id AND active)
BEGIN
  UPDATE domainmetadata SET content = CASE
      WHEN EXISTS (SELECT 1 FROM mydns_rectify_asked WHERE domain_id = NEW.domain_id) THEN '1'
      ELSE '0' END
  WHERE domain_id = NEW.domain_id AND kind = 'API-RECTIFY';
  DELETE FROM mydns_rectify_asked WHERE domain_id = NEW.domain_id;
END;

CREATE TRIGGER IF NOT EXISTS mydns_forget_ordernames AFTER DELETE ON domains
BEGIN
  DELETE FROM mydns_kept_ordernames WHERE domain_id = OLD.id;
  DELETE FROM mydns_rectify_asked WHERE domain_id = OLD.id;
END;
