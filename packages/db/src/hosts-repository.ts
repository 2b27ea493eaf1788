import { type HostStatus, type Ipv6Prefix, type Ipv6Step, nextIpv6 } from '@mydns/domain';
import { changedHostsStep, commitAddressChanges } from './address-changes.ts';
import type { AddressCommitter } from './address-committer.ts';
import { type Database, preparedQuery } from './database.ts';
import { QUEUE_DORMANT_EVENTS, QUEUE_WEBHOOK_EVENTS } from './webhooks-repository.ts';

/** Which host: its zone and its label (`name`). A HostRecord is one too. */
export interface HostKey {
  readonly zone: string;
  readonly name: string;
}

export interface HostRecord {
  readonly id: number;
  /** One of the zones served (MYDNS_ZONES); the same label may exist in each. */
  readonly zone: string;
  /** The label: `alice` of `alice.<zone>`. */
  readonly name: string;
  readonly passwordHash: string;
  readonly contactEmail: string | null;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  /** The /64 interface-identifier records follow; null: the /64 of `ipv6`. */
  readonly ipv6Prefix: string | null;
  /** `*.<host>` answers the host's addresses. */
  readonly wildcard: boolean;
  readonly status: HostStatus;
  readonly createdAt: Date;
  readonly addressChangedAt: Date | null;
  readonly lastSeenAt: Date | null;
  readonly passwordChangedAt: Date;
  /** Bumped when a credential stops being valid; caches of verified secrets are bound to it. */
  readonly credentialVersion: number;
  readonly mail: MailSettings;
  /** The account that holds the host (README "Accounts"); null or absent for a host of its own. */
  readonly accountId?: number | null;
}

/** The password hash of a host made in an account: it has no password of its own, and nothing matches this. */
export const NO_HOST_PASSWORD = '';

export interface MailSettings {
  readonly enabled: boolean;
  readonly port: number | null;
  readonly clientAddress: 'xclient' | 'proxy-v2' | 'none';
  readonly tls: 'opportunistic' | 'fingerprint' | 'verify' | 'none';
  /** SHA-256 of the home server's certificate, lower-case hex, when `tls` is `fingerprint`. */
  readonly fingerprint: string | null;
}

interface HostRow {
  id: number;
  zone: string;
  name: string;
  password_hash: string;
  contact_email: string | null;
  ipv4: string | null;
  ipv6: string | null;
  ipv6_prefix: string | null;
  wildcard: boolean;
  status: HostStatus;
  created_at: Date;
  address_changed_at: Date | null;
  last_seen_at: Date | null;
  password_changed_at: Date;
  credential_version: number;
  mail_enabled: boolean;
  mail_port: number | null;
  mail_client_address: MailSettings['clientAddress'];
  mail_tls: MailSettings['tls'];
  mail_tls_fingerprint: string | null;
  account_id: number | null;
}

const COLUMNS = [
  'id',
  'zone',
  'name',
  'password_hash',
  'contact_email',
  'ipv4',
  'ipv6',
  'ipv6_prefix',
  'wildcard',
  'status',
  'created_at',
  'address_changed_at',
  'last_seen_at',
  'password_changed_at',
  'credential_version',
  'mail_enabled',
  'mail_port',
  'mail_client_address',
  'mail_tls',
  'mail_tls_fingerprint',
  'account_id',
] as const;

function toHost(row: HostRow): HostRecord {
  return {
    id: row.id,
    zone: row.zone,
    name: row.name,
    passwordHash: row.password_hash,
    contactEmail: row.contact_email,
    ipv4: row.ipv4,
    ipv6: row.ipv6,
    ipv6Prefix: row.ipv6_prefix,
    wildcard: row.wildcard,
    status: row.status,
    createdAt: row.created_at,
    addressChangedAt: row.address_changed_at,
    lastSeenAt: row.last_seen_at,
    passwordChangedAt: row.password_changed_at,
    credentialVersion: row.credential_version,
    mail: {
      enabled: row.mail_enabled,
      port: row.mail_port,
      clientAddress: row.mail_client_address,
      tls: row.mail_tls,
      fingerprint: row.mail_tls_fingerprint,
    },
    accountId: row.account_id,
  };
}

/** What an update asks for one address family. */
export type FamilyChange =
  | { readonly keep: true }
  | { readonly keep: false; readonly address: string | null };

/**
 * What an update asks for IPv6: a family change, or a prefix move
 * (`myipv6=<prefix>/<len>`: the AAAA keeps its bits after the length, see
 * packages/domain ipv6-prefix.ts).
 */
export type Ipv6Change = FamilyChange | { readonly keep: false; readonly prefix: Ipv6Prefix };

/** The domain's word for an Ipv6Change (packages/domain ipv6-prefix.ts). */
export function ipv6Step(change: Ipv6Change): Ipv6Step {
  if ('prefix' in change) return { kind: 'prefix', prefix: change.prefix };
  return change.keep ? { kind: 'keep' } : { kind: 'set', address: change.address };
}

export interface AddressChange {
  readonly oldIpv4: string | null;
  readonly oldIpv6: string | null;
  readonly oldIpv6Prefix: string | null;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly ipv6Prefix: string | null;
  /** The pending-push marker written with the change. */
  readonly outboxId: number;
}

/** A zone as the database knows it: how many hosts it holds, and the first few of their labels. */
export interface ZoneHosts {
  readonly zone: string;
  readonly hosts: number;
  readonly sample: readonly string[];
}

export interface HostsRepository {
  create(input: {
    zone: string;
    name: string;
    passwordHash: string;
    contactEmail?: string | null;
  }): Promise<HostRecord | undefined>;
  findByName(zone: string, name: string): Promise<HostRecord | undefined>;
  /** The hosts of an account, in zone and label order. */
  listByAccount(accountId: number): Promise<HostRecord[]>;
  /** Hosts in zone and label order; of one zone when `zone` is given. */
  list(options?: { limit?: number; zone?: string }): Promise<HostRecord[]>;
  /**
   * Applies an address change and queues it for PowerDNS in one transaction
   * (with the other changes of its group, see address-committer.ts).
   * Returns undefined when, under the row lock, nothing would change (a
   * concurrent request got there first) or the host is disabled or gone.
   * `lan` is the LAN's prefix (Fritz!Box `ip6lanprefix`): the /64 the
   * identifier records follow. Without one, a new IPv6 address (or none)
   * makes them follow that address's /64.
   */
  applyAddressChange(
    id: number,
    v4: FamilyChange,
    v6: Ipv6Change,
    lan?: Ipv6Prefix,
  ): Promise<AddressChange | undefined>;
  /** `*.<host>` on or off; queues the host for PowerDNS. Undefined when the host is gone or nothing changed. */
  setWildcard(id: number, wildcard: boolean): Promise<number | undefined>;
  /** The monthly-activity clock: at most one write per host per hour (docs/architecture.md, "The update path", step 5). */
  touchLastSeen(id: number): Promise<void>;
  /** Operator actions; each queues the host for PowerDNS. Undefined when the host is gone. */
  setStatus(host: HostKey, status: 'active' | 'disabled'): Promise<number | undefined>;
  /**
   * Deletes the host and queues its records' removal; with `quarantineUntil`, the
   * name stays unregistrable in its zone until then ('forever': until the operator releases it).
   */
  remove(host: HostKey, options?: { quarantineUntil?: Date | 'forever' }): Promise<number | undefined>;
  /** When a deleted name may be registered again in its zone; undefined when it may now. */
  quarantinedUntil(host: HostKey): Promise<Date | 'forever' | undefined>;
  /** Lets a quarantined name be registered at once (operator CLI); false when it was not quarantined. */
  releaseName(host: HostKey): Promise<boolean>;
  /** A new password hash; every credential cache drops the old one (credential_version). */
  changePassword(id: number, passwordHash: string): Promise<void>;
  updateMail(id: number, mail: MailSettings): Promise<number | undefined>;
  /**
   * Active hosts without a successful update since `cutoff` become dormant
   * (their addresses leave DNS). With `dryRun`, only lists them.
   */
  expireInactive(cutoff: Date, options: { dryRun: boolean; limit?: number }): Promise<HostKey[]>;
  /** Every zone that holds hosts, with their count, in zone order. */
  zones(): Promise<ZoneHosts[]>;
  /**
   * Moves every host of zone `from` into `to` and queues both sides for
   * PowerDNS (the records leave `from` and appear in `to`), in one transaction.
   * Nothing moves when a label exists in both: `clashes` names them.
   */
  moveZone(
    from: string,
    to: string,
  ): Promise<{ moved: readonly string[]; clashes: readonly string[]; outboxIds: readonly number[] }>;
  /** Drops anything remembered about the host in this process (a cache); Postgres is unaffected. */
  forget(host: HostKey): void;
}

const FIND_HOST = `select ${COLUMNS.join(', ')} from hosts where zone = $1 and name = $2`;

// A prefix update (packages/domain ipv6-prefix.ts), in a transaction of its own
// that has locked the row and computed the new values from it: the statement
// writes them only if something differs, with the outbox row. Plain address
// changes go through the group commit (address-changes.ts).
const APPLY_ADDRESS_CHANGE = `
  with old as (
    select id, name, ipv4, ipv6, ipv6_prefix, status from hosts where id = $1 for no key update
  ), next as (
    select id, name, ipv4 as old_ipv4, ipv6 as old_ipv6, ipv6_prefix as old_ipv6_prefix,
           status as old_status,
           case when $2::boolean then ipv4 else $3::text end as ipv4,
           case when $4::boolean then ipv6 else $5::text end as ipv6,
           case when $6::boolean then ipv6_prefix else $7::text end as ipv6_prefix
      from old where status in ('active', 'dormant')
  ), ${changedHostsStep(`h.id, h.zone, h.name, next.old_status, next.old_ipv4, next.old_ipv6, next.old_ipv6_prefix,
              h.ipv4, h.ipv6, h.ipv6_prefix`)}, queued as (
    insert into dns_outbox (zone, name) select zone, name from changed returning id
  ), ${QUEUE_WEBHOOK_EVENTS}
  select changed.old_ipv4, changed.old_ipv6, changed.old_ipv6_prefix, changed.ipv4, changed.ipv6,
         changed.ipv6_prefix, queued.id as outbox_id
    from changed cross join queued`;

interface AppliedRow {
  old_ipv4: string | null;
  old_ipv6: string | null;
  old_ipv6_prefix: string | null;
  ipv4: string | null;
  ipv6: string | null;
  ipv6_prefix: string | null;
  outbox_id: number;
}

const toAddressChange = (row: AppliedRow): AddressChange => ({
  oldIpv4: row.old_ipv4,
  oldIpv6: row.old_ipv6,
  oldIpv6Prefix: row.old_ipv6_prefix,
  ipv4: row.ipv4,
  ipv6: row.ipv6,
  ipv6Prefix: row.ipv6_prefix,
  outboxId: row.outbox_id,
});

export interface HostsRepositoryOptions {
  /**
   * Group commit of address changes (address-committer.ts, wired in the API's
   * services.ts); without it, each change is committed alone.
   */
  readonly addressChanges?: Pick<AddressCommitter, 'apply'>;
}

export function createHostsRepository(db: Database, options: HostsRepositoryOptions = {}): HostsRepository {
  return {
    async create(input) {
      const rows = await db<HostRow>('hosts')
        .insert({
          zone: input.zone,
          name: input.name,
          password_hash: input.passwordHash,
          contact_email: input.contactEmail ?? null,
        })
        .onConflict(['zone', 'name'])
        .ignore()
        .returning([...COLUMNS]);
      const row = rows[0] as HostRow | undefined;
      return row ? toHost(row) : undefined;
    },
    async findByName(zone, name) {
      const [row] = await preparedQuery<HostRow>(db, 'mydns_find_host', FIND_HOST, [zone, name]);
      return row ? toHost(row) : undefined;
    },
    async listByAccount(accountId) {
      const rows = await db('hosts')
        .select<HostRow[]>(COLUMNS)
        .where({ account_id: accountId })
        .orderBy(['zone', 'name']);
      return rows.map(toHost);
    },
    async list(options = {}) {
      const query = db('hosts')
        .select<HostRow[]>(COLUMNS)
        .orderBy([{ column: 'zone' }, { column: 'name' }])
        .limit(options.limit ?? 1000);
      if (options.zone !== undefined) query.where({ zone: options.zone });
      return (await query).map(toHost);
    },
    async applyAddressChange(id, v4, v6, lan) {
      if (!('prefix' in v6) && lan === undefined) {
        if (options.addressChanges) return options.addressChanges.apply(id, v4, v6);
        const [applied] = await commitAddressChanges(db, [{ id, v4, v6 }]);
        return applied;
      }
      // A prefix combines with the bits the host holds now: read them under the
      // row lock, then apply the result with the same statement in the same transaction.
      return db.transaction(async (trx) => {
        // For no key update, as the group commit's (address-changes.ts): the history's foreign keys never wait for it.
        const current: { ipv6: string | null; ipv6_prefix: string | null } | undefined = await trx('hosts')
          .where({ id })
          .forNoKeyUpdate()
          .first('ipv6', 'ipv6_prefix');
        if (!current) return undefined;
        const next = nextIpv6({ ipv6: current.ipv6, ipv6Prefix: current.ipv6_prefix }, ipv6Step(v6), lan);
        const parameters = [
          id,
          v4.keep,
          v4.keep ? null : v4.address,
          false,
          next.ipv6,
          false,
          next.ipv6Prefix,
        ];
        const { rows } = await trx.raw<{ rows: AppliedRow[] }>(
          APPLY_ADDRESS_CHANGE.replace(/\$[0-9]/g, '?'),
          parameters as never,
        );
        return rows[0] ? toAddressChange(rows[0]) : undefined;
      });
    },
    async setWildcard(id, wildcard) {
      const host: HostKey | undefined = await db('hosts').where({ id }).first('zone', 'name');
      if (!host) return undefined;
      return changeAndQueue(db, host, (trx) =>
        trx('hosts').where({ id }).andWhereNot({ wildcard }).update({ wildcard }),
      );
    },
    async touchLastSeen(id) {
      await db.raw(
        `update hosts set last_seen_at = now()
          where id = ? and (last_seen_at is null or last_seen_at < now() - interval '1 hour')`,
        [id],
      );
    },
    async setStatus(host, status) {
      const key = { zone: host.zone, name: host.name };
      return changeAndQueue(db, key, (trx) => trx('hosts').where(key).update({ status }));
    },
    async remove(host, options = {}) {
      const key = { zone: host.zone, name: host.name };
      let stale: string[] = [];
      // The outbox row outlives the host: the writer then finds no row and removes every
      // record, the owner's too (their rrsets ride along as the row's `stale`).
      return changeAndQueue(
        db,
        key,
        async (trx) => {
          stale = await ownerRrsetKeys(trx, key);
          const removed = await trx('hosts').where(key).delete();
          const until = options.quarantineUntil;
          if (removed > 0 && until !== undefined) {
            await trx('name_quarantine')
              .insert({
                ...key,
                deleted_at: trx.fn.now(),
                available_at: until === 'forever' ? 'infinity' : until,
              })
              .onConflict(['zone', 'name'])
              .merge();
          }
          return removed;
        },
        () => stale,
      );
    },
    async quarantinedUntil(host) {
      const row = await db('name_quarantine')
        .where({ zone: host.zone, name: host.name })
        .andWhere('available_at', '>', db.fn.now())
        .first<{ available_at: Date; forever: boolean } | undefined>(
          'available_at',
          db.raw("available_at = 'infinity' as forever"),
        );
      if (!row) return undefined;
      return row.forever ? 'forever' : row.available_at;
    },
    async releaseName(host) {
      return (await db('name_quarantine').where({ zone: host.zone, name: host.name }).delete()) > 0;
    },
    async changePassword(id, passwordHash) {
      await db('hosts')
        .where({ id })
        .update({
          password_hash: passwordHash,
          password_changed_at: db.fn.now(),
          credential_version: db.raw('credential_version + 1'),
        });
    },
    async updateMail(id, mail) {
      const host: HostKey | undefined = await db('hosts').where({ id }).first('zone', 'name');
      if (!host) return undefined;
      return changeAndQueue(db, host, (trx) =>
        trx('hosts').where({ id }).update({
          mail_enabled: mail.enabled,
          mail_port: mail.port,
          mail_client_address: mail.clientAddress,
          mail_tls: mail.tls,
          mail_tls_fingerprint: mail.fingerprint,
        }),
      );
    },
    async expireInactive(cutoff, options) {
      const limit = options.limit ?? 10_000;
      // Every zone at once: the outbox rows carry each host's zone to its own writer.
      if (options.dryRun) {
        return db('hosts')
          .select<HostKey[]>('zone', 'name')
          .where({ status: 'active' })
          .andWhereRaw('coalesce(last_seen_at, created_at) < ?', [cutoff])
          .orderBy([{ column: 'zone' }, { column: 'name' }])
          .limit(limit);
      }
      const { sql, bindings } = expireInactiveQuery(cutoff, limit);
      const result = await db.raw<{ rows: HostKey[] }>(sql, bindings as never);
      return result.rows.map((row) => ({ zone: row.zone, name: row.name }));
    },
    async zones() {
      const { rows } = await db.raw<{ rows: { zone: string; hosts: number; sample: string[] }[] }>(
        `select zone, count(*)::int as hosts, (array_agg(name order by name))[1:5] as sample
           from hosts group by zone order by zone`,
      );
      return rows.map((row) => ({ zone: row.zone, hosts: row.hosts, sample: row.sample }));
    },
    async moveZone(from, to) {
      return db.transaction(async (trx) => {
        // Registrations in either zone wait for the move (they insert; this lock excludes that).
        await trx.raw('lock table hosts in share row exclusive mode');
        const clashes: { name: string }[] = await trx('hosts as a')
          .join('hosts as b', 'b.name', 'a.name')
          .where({ 'a.zone': from, 'b.zone': to })
          .orderBy('a.name')
          .select('a.name');
        if (clashes.length > 0) return { moved: [], clashes: clashes.map((row) => row.name), outboxIds: [] };
        const moved: { name: string }[] = await trx('hosts')
          .where({ zone: from })
          .update({ zone: to })
          .returning('name');
        const names = moved.map((row) => row.name).sort();
        if (names.length === 0) return { moved: [], clashes: [], outboxIds: [] };
        // Both sides: the writer of `from` finds no host there any more and removes the
        // records; the writer of `to` writes them from the moved rows.
        const stale = await trx.raw<{ rows: { name: string; subnames: string[] }[] }>(
          `select h.name, array_agg(distinct r.type || ':' || r.subname) as subnames
             from host_records r join hosts h on h.id = r.host_id
            where h.zone = ? group by h.name`,
          [to],
        );
        const staleOf = new Map(stale.rows.map((row) => [row.name, row.subnames]));
        const queued: { id: number }[] = await trx('dns_outbox')
          .insert(
            [from, to].flatMap((zone) =>
              names.map((name) => ({
                zone,
                name,
                stale: zone === from ? (staleOf.get(name) ?? null) : null,
              })),
            ),
          )
          .returning('id');
        return { moved: names, clashes: [], outboxIds: queued.map((row) => row.id) };
      });
    },
    forget() {
      // Nothing is remembered here; the host cache (host-cache.ts) overrides this.
    },
  };
}

/**
 * Runs `change` and, if it touched the host, queues the host for PowerDNS, in
 * one transaction; `stale` names the owner's subnames the rows no longer hold.
 */
async function changeAndQueue(
  db: Database,
  host: HostKey,
  change: (trx: Database) => Promise<number>,
  stale: () => readonly string[] = () => [],
): Promise<number | undefined> {
  return db.transaction(async (trx) => {
    const touched = await change(trx);
    if (touched === 0) return undefined;
    const names = stale();
    const [row] = await trx('dns_outbox')
      .insert({ zone: host.zone, name: host.name, stale: names.length > 0 ? [...names] : null })
      .returning('id');
    return (row as { id: number }).id;
  });
}

/** The rrsets of a host's owner records, `TYPE:subname` (the outbox's `stale`, see packages/powerdns projection.ts). */
export async function ownerRrsetKeys(db: Database, host: HostKey): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { key: string }[] }>(
    `select distinct r.type || ':' || r.subname as key
       from host_records r join hosts h on h.id = r.host_id
      where h.zone = ? and h.name = ? order by 1`,
    [host.zone, host.name],
  );
  return rows.map((row) => row.key);
}

/**
 * The dormancy pass's statement (exported for the test of its plan): up to
 * `limit` active hosts inactive since before `cutoff` go dormant, each with
 * its outbox row. It picks them, oldest activity first, from an index of the
 * active hosts' activity: hosts_active_since (migration
 * 20261207110000_dormancy_index), which holds exactly the expression and
 * condition used here. The picked ids are an array, so the update finds its
 * rows by primary key: with `id in (select …)` Postgres joined the picks to
 * a sequential scan of all hosts.
 */
export function expireInactiveQuery(cutoff: Date, limit: number): { sql: string; bindings: unknown[] } {
  return {
    sql: `with expired as (
           update hosts set status = 'dormant'
            where id = any(array(select id from hosts
                                  where status = 'active' and coalesce(last_seen_at, created_at) < ?
                                  order by coalesce(last_seen_at, created_at) limit ? for update skip locked))
           returning id, zone, name, ipv4, ipv6
         ), queued as (
           insert into dns_outbox (zone, name) select zone, name from expired
         ), ${QUEUE_DORMANT_EVENTS}
         select zone, name from expired order by zone, name`,
    bindings: [cutoff, limit],
  };
}
