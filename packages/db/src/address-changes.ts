import type { PendingChange } from './address-committer.ts';
import { type Database, type PreparedQuery, preparedQuery, preparedTransaction } from './database.ts';
import type { AddressChange } from './hosts-repository.ts';
import { QUEUE_WEBHOOK_EVENTS } from './webhooks-repository.ts';

/**
 * The `changed` step of an address change (this group commit's and a prefix update's in
 * hosts-repository.ts): writes `next` (the row with its new values) only where something
 * differs or a dormant host comes back, and returns `returning`.
 */
export function changedHostsStep(returning: string): string {
  return `changed as (
    update hosts h
       set ipv4 = next.ipv4, ipv6 = next.ipv6, ipv6_prefix = next.ipv6_prefix, status = 'active',
           last_seen_at = now(),
           address_changed_at = case
             when next.ipv4 is distinct from next.old_ipv4 or next.ipv6 is distinct from next.old_ipv6
               or next.ipv6_prefix is distinct from next.old_ipv6_prefix
             then now() else h.address_changed_at end
      from next
     where h.id = next.id
       and (next.ipv4 is distinct from next.old_ipv4 or next.ipv6 is distinct from next.old_ipv6
            or next.ipv6_prefix is distinct from next.old_ipv6_prefix or next.old_status <> 'active')
    returning ${returning}
  )`;
}

/**
 * Address changes as SQL: a group of changes (address-committer.ts) in one
 * statement per round, each round a set of distinct hosts.
 *
 * One statement locks the rows, computes the new addresses from the locked
 * (latest) values, writes only those that differ, and inserts one outbox row
 * per written host (its zone's: each zone's writer pushes its own), so a
 * change is never committed without its pending push (nor without its
 * webhook events, webhooks-repository.ts). A round's hosts are
 * distinct, so (zone, name) ties each outbox row to its change.
 * The rows are locked in id order: two groups (two replicas) that share hosts
 * wait for each other instead of deadlocking. They are locked `for no key
 * update`, the lock an UPDATE that changes no key takes anyway, which does not
 * conflict with the `for key share` lock each foreign key to the host takes:
 * a history batch inserts its rows in arrival order, not in id order, and
 * with `for update` the two deadlocked (group-commit.test.ts).
 *
 * A statement cannot update a row twice, so a host that comes more than once
 * in a group is split into rounds: the first change of each host in round 1,
 * the second ones in round 2 and so on, all in one transaction, each round
 * seeing the one before (its old values are the previous round's new ones).
 * A group without repeats (nearly all) is one statement, its own transaction.
 */
const APPLY_ADDRESS_CHANGES = `
  with input as (
    select * from unnest($1::bigint[], $2::boolean[], $3::text[], $4::boolean[], $5::text[])
      with ordinality as t(id, keep4, v4, keep6, v6, ord)
  ), old as materialized (
    select id, zone, name, ipv4, ipv6, ipv6_prefix, status from hosts
     where id = any($1::bigint[]) order by id for no key update
  ), next as (
    select old.id, old.zone, old.name, input.ord, old.ipv4 as old_ipv4, old.ipv6 as old_ipv6,
           old.ipv6_prefix as old_ipv6_prefix, old.status as old_status,
           case when input.keep4 then old.ipv4 else input.v4 end as ipv4,
           case when input.keep6 then old.ipv6 else input.v6 end as ipv6,
           -- A new IPv6 address (or none) drops the identifier /64 (packages/domain ipv6-prefix.ts nextIpv6).
           case when input.keep6 then old.ipv6_prefix else null end as ipv6_prefix
      from old join input on input.id = old.id
     where old.status in ('active', 'dormant')
  ), ${changedHostsStep(`h.id, h.zone, h.name, next.ord, next.old_status, next.old_ipv4, next.old_ipv6,
              next.old_ipv6_prefix, h.ipv4, h.ipv6, h.ipv6_prefix`)}, queued as (
    insert into dns_outbox (zone, name) select zone, name from changed order by ord returning id, zone, name
  ), ${QUEUE_WEBHOOK_EVENTS}
  select changed.ord, changed.old_ipv4, changed.old_ipv6, changed.old_ipv6_prefix, changed.ipv4,
         changed.ipv6, changed.ipv6_prefix, queued.id as outbox_id
    from changed join queued on queued.zone = changed.zone and queued.name = changed.name`;

interface ChangedRow {
  ord: number;
  old_ipv4: string | null;
  old_ipv6: string | null;
  old_ipv6_prefix: string | null;
  ipv4: string | null;
  ipv6: string | null;
  ipv6_prefix: string | null;
  outbox_id: number;
}

/** Splits a group into rounds of distinct hosts, keeping each host's changes in arrival order. */
export function roundsOf(changes: readonly PendingChange[]): { index: number; change: PendingChange }[][] {
  const rounds: { index: number; change: PendingChange }[][] = [];
  const seen = new Map<number, number>();
  for (const [index, change] of changes.entries()) {
    const round = seen.get(change.id) ?? 0;
    seen.set(change.id, round + 1);
    let members = rounds[round];
    if (!members) {
      members = [];
      rounds.push(members);
    }
    members.push({ index, change });
  }
  return rounds;
}

async function applyRound(
  query: PreparedQuery,
  round: readonly { index: number; change: PendingChange }[],
  results: (AddressChange | undefined)[],
): Promise<void> {
  const column = <T>(pick: (change: PendingChange) => T) => round.map((member) => pick(member.change));
  const rows = await query<ChangedRow>('mydns_apply_address_changes', APPLY_ADDRESS_CHANGES, [
    column((c) => c.id),
    column((c) => c.v4.keep),
    column((c) => (c.v4.keep ? null : c.v4.address)),
    column((c) => c.v6.keep),
    column((c) => (c.v6.keep ? null : c.v6.address)),
  ]);
  for (const row of rows) {
    const member = round[Number(row.ord) - 1];
    if (!member) throw new Error(`the address change statement returned an unknown position ${row.ord}`);
    results[member.index] = {
      oldIpv4: row.old_ipv4,
      oldIpv6: row.old_ipv6,
      oldIpv6Prefix: row.old_ipv6_prefix,
      ipv4: row.ipv4,
      ipv6: row.ipv6,
      ipv6Prefix: row.ipv6_prefix,
      outboxId: row.outbox_id,
    };
  }
}

/** Commits a group of address changes in one transaction (the committer's `commit`). */
export async function commitAddressChanges(
  db: Database,
  changes: readonly PendingChange[],
): Promise<(AddressChange | undefined)[]> {
  const results: (AddressChange | undefined)[] = changes.map(() => undefined);
  const rounds = roundsOf(changes);
  const [only] = rounds;
  if (rounds.length === 1 && only) {
    await applyRound((name, text, values) => preparedQuery(db, name, text, values), only, results);
  } else {
    await preparedTransaction(db, async (query) => {
      for (const round of rounds) await applyRound(query, round, results);
    });
  }
  return results;
}

/**
 * Whether a group's failure may be one change's fault: Postgres refused the
 * data (SQLSTATE class 22, data exception, e.g. an address that is not one)
 * or a constraint (class 23, e.g. an IPv6 address as ipv4). Anything else
 * (the connection, a timeout, Postgres shutting down) would fail each change
 * alone just the same.
 */
export function isAddressChangeError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}
