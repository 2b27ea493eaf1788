-- MyDNS: keeps a signed zone's NSEC3 order names across the PATCHes of the
-- PowerDNS API, so that only a PATCH that adds a name is rectified (docs/dnssec.md,
-- "Kept order names"). Loaded by ../10-mydns.sh after pdns-schema.pgsql.sql, as
-- the pdns role. The same triggers for gsqlite3, and why they are right:
-- pdns/keep-ordernames.sqlite3.sql.
--
-- In short: a REPLACE deletes an rrset's rows and inserts new ones without an
-- order name; the order name depends on the name alone, so the deleted rows (or
-- another rrset of the name) give theirs to the new ones. A name the zone never
-- held sets API-RECTIFY to 1, which PowerDNS reads after the changes and the
-- SOA-EDIT-API rewrite of the SOA, in the same transaction, and then rectifies;
-- that SOA rewrite sets it back to 0 when no row of the PATCH asked.

CREATE TABLE mydns_kept_ordernames (
  domain_id             INT NOT NULL,
  name                  VARCHAR(255) NOT NULL,
  ordername             VARCHAR(255) NOT NULL,
  PRIMARY KEY (domain_id, name)
);

CREATE TABLE mydns_rectify_asked (
  domain_id             INT PRIMARY KEY
);

CREATE FUNCTION mydns_keep_ordername() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mydns_kept_ordernames (domain_id, name, ordername)
  VALUES (OLD.domain_id, OLD.name, OLD.ordername)
  ON CONFLICT (domain_id, name) DO UPDATE SET ordername = EXCLUDED.ordername;
  RETURN OLD;
END
$$;

CREATE TRIGGER mydns_keep_ordername BEFORE DELETE ON records
FOR EACH ROW WHEN (OLD.ordername IS NOT NULL) EXECUTE FUNCTION mydns_keep_ordername();

CREATE FUNCTION mydns_give_ordername() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cryptokeys WHERE domain_id = NEW.domain_id AND active) THEN
    RETURN NEW;
  END IF;
  -- Empty non-terminals (type NULL) are the rectify's own rows and left to it.
  IF NEW.ordername IS NULL AND NEW.type IS NOT NULL THEN
    NEW.ordername := COALESCE(
      (SELECT ordername FROM records
        WHERE domain_id = NEW.domain_id AND name = NEW.name AND ordername IS NOT NULL LIMIT 1),
      (SELECT ordername FROM mydns_kept_ordernames WHERE domain_id = NEW.domain_id AND name = NEW.name));
    IF NEW.ordername IS NULL THEN
      INSERT INTO mydns_rectify_asked (domain_id) VALUES (NEW.domain_id) ON CONFLICT DO NOTHING;
      UPDATE domainmetadata SET content = '1' WHERE domain_id = NEW.domain_id AND kind = 'API-RECTIFY';
      IF NOT FOUND THEN
        INSERT INTO domainmetadata (domain_id, kind, content) VALUES (NEW.domain_id, 'API-RECTIFY', '1');
      END IF;
    END IF;
  END IF;
  -- The SOA rewrite at the end of a PATCH: rectify this PATCH if, and only if, it asked.
  IF NEW.type = 'SOA' THEN
    UPDATE domainmetadata
    SET content = CASE WHEN EXISTS (SELECT 1 FROM mydns_rectify_asked WHERE domain_id = NEW.domain_id)
      THEN '1' ELSE '0' END
    WHERE domain_id = NEW.domain_id AND kind = 'API-RECTIFY';
    DELETE FROM mydns_rectify_asked WHERE domain_id = NEW.domain_id;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER mydns_give_ordername BEFORE INSERT ON records
FOR EACH ROW EXECUTE FUNCTION mydns_give_ordername();

-- Not foreign keys: PowerDNS deletes a zone's records before the zone, and a
-- cascade from domains would meet the trigger above writing for the zone going away.
CREATE FUNCTION mydns_forget_ordernames() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mydns_kept_ordernames WHERE domain_id = OLD.id;
  DELETE FROM mydns_rectify_asked WHERE domain_id = OLD.id;
  RETURN OLD;
END
$$;

CREATE TRIGGER mydns_forget_ordernames AFTER DELETE ON domains
FOR EACH ROW EXECUTE FUNCTION mydns_forget_ordernames();
