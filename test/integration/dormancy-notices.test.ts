/**
 * Dormancy mails (README "Accounts", "Notices") against the real Postgres,
 * PowerDNS and a real smarthost (aiosmtpd) that reads the mails back: with
 * notices on, a warning MYDNS_DORMANCY_WARNING_DAYS (7) before a host goes
 * dormant, once per period of inactivity, and a notice when the maintenance
 * pass makes it dormant; nothing with notices off or an unverified address;
 * an update starts a new period; two passes at once (two replicas) send each
 * mail once; the claims use their partial indexes. The clock is injected as
 * in the other dormancy tests (maintenance.runOnce(now)); the service's own
 * pass is kept out of the way (MYDNS_MAINTENANCE_INTERVAL=1h).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createDormancyNoticesRepository, DORMANCY_QUERIES } from '@mydns/db';
import { createDormancyNotices } from '../../apps/api/src/notifications/dormancy-notices.ts';
import {
  NOTICES_PUBLIC_URL as PUBLIC_URL,
  partOf,
  sendJson,
  textOf,
  useMyDnsWithSmarthost,
  verifiedAccountWithHost,
} from '../support/notices.ts';
import type { SmarthostMessage } from '../support/smarthost.ts';
import { waitFor } from '../support/wait.ts';

const DAY = 86_400_000;
const stack = useMyDnsWithSmarthost();

/** An account's host with notices on, updated once (its period of inactivity starts now). */
async function hostWithNotices(options: { notices?: boolean } = {}) {
  const account = await verifiedAccountWithHost(stack.mydns);
  if (options.notices ?? true) {
    const on = await sendJson(
      stack.mydns,
      `/api/v1/hosts/${account.hostname}`,
      'PATCH',
      { notify: { email: true } },
      account.auth,
    );
    assert.equal(on.status, 200, on.body);
  }
  assert.equal((await update(account.hostname, account.auth)).body, 'good 192.0.2.10');
  return account;
}
const update = (hostname: string, auth: [string, string]) =>
  stack.mydns.request(`/nic/update?hostname=${hostname}&myip=192.0.2.10`, { auth });
const hostWhere = (hostname: string) =>
  stack.mydns.db('hosts').whereRaw("name || '.' || zone = ?", [hostname]);
async function lastSeen(hostname: string): Promise<Date> {
  const row = await hostWhere(hostname).first('last_seen_at');
  assert.ok(row?.last_seen_at instanceof Date);
  return row.last_seen_at;
}
/** Mails of `kind` queued for `to` (the outbox keeps every one, sent or not). */
const queued = async (to: string, kind: 'dormancy_warning' | 'dormant') =>
  Number((await stack.mydns.db('mail_outbox').where({ recipient: to, kind }).count({ n: '*' }))[0]?.n);
async function mailsTo(to: string, subject: RegExp, count: number): Promise<SmarthostMessage[]> {
  const matching = () =>
    stack.peer.messages().filter((m) => m.to.includes(to) && subject.test(m.headers.subject ?? ''));
  await waitFor(() => matching().length >= count, { message: `${count} mails ${subject} to ${to}` });
  return matching();
}
/** Every link of both parts starts with MYDNS_PUBLIC_URL. */
function assertLinksOurs(message: SmarthostMessage | undefined) {
  const links = [textOf(message), partOf(message, 'text/html')].flatMap(
    (part) => part.match(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi) ?? [],
  );
  assert.ok(links.length > 0, 'the mail has links');
  for (const link of links) assert.ok(link.startsWith(`${PUBLIC_URL}/`), link);
}
const maintenance = (now?: Date) => stack.mydns.services.maintenance.runOnce(now);

describe('dormancy mails', () => {
  test('a warning 7 days before, once; the notice when the pass makes the host dormant, once', async () => {
    const { email, hostname } = await hostWithNotices();
    const seen = await lastSeen(hostname);
    const at = (days: number, ms = 0) => new Date(seen.getTime() + days * DAY + ms);

    await maintenance(at(23, -60_000));
    assert.equal(await queued(email, 'dormancy_warning'), 0, 'not before 23 days');
    const warnedPass = await maintenance(at(23, 60_000));
    assert.equal(warnedPass?.dormancyMails.warned, 1);
    assert.equal(await queued(email, 'dormancy_warning'), 1);
    const [warning] = await mailsTo(email, /goes dormant/, 1);
    assert.equal(warning?.headers.subject, `${hostname} goes dormant in 7 days`);
    assert.match(
      textOf(warning),
      new RegExp(`no successful update since ${seen.toISOString().slice(0, 10)}`),
    );
    assert.match(textOf(warning), /keeps it active, even one that sends the same address/);
    assert.match(partOf(warning, 'text/html'), /<strong>/);
    assertLinksOurs(warning);

    await maintenance(at(24));
    await maintenance(at(29));
    assert.equal(await queued(email, 'dormancy_warning'), 1, 'a later pass does not warn again');

    const dormantPass = await maintenance(at(30, 60_000));
    assert.ok(dormantPass?.dormant.includes(hostname));
    assert.equal(dormantPass?.dormancyMails.toldDormant, 1);
    const [notice] = await mailsTo(email, /is dormant/, 1);
    assert.equal(notice?.headers.subject, `${hostname} is dormant: its addresses left DNS`);
    assert.match(textOf(notice), /To bring it back, update it once/);
    assertLinksOurs(notice);
    await maintenance(at(31));
    assert.equal(await queued(email, 'dormant'), 1, 'told once');
    assert.equal(await queued(email, 'dormancy_warning'), 1);
  });

  test('an update starts a new period: the next warning is due from it', async () => {
    const { email, auth, hostname } = await hostWithNotices();
    await hostWhere(hostname).update({ last_seen_at: stack.mydns.db.raw("now() - interval '24 days'") });
    await maintenance();
    assert.equal(await queued(email, 'dormancy_warning'), 1);
    const [warning] = await mailsTo(email, /goes dormant/, 1);
    assert.equal(warning?.headers.subject, `${hostname} goes dormant in 6 days`);

    // nochg counts as activity as much as good does.
    assert.equal((await update(hostname, auth)).body, 'nochg 192.0.2.10');
    await maintenance();
    assert.equal(await queued(email, 'dormancy_warning'), 1, 'the new period has just begun');
    await maintenance(new Date(Date.now() + 23 * DAY + 60_000));
    assert.equal(await queued(email, 'dormancy_warning'), 2, 'warned again in the new period');
  });

  test('none with notices off or an unverified address (until it is verified)', async () => {
    const off = await hostWithNotices({ notices: false });
    const unverified = await hostWithNotices();
    await stack.mydns.db('accounts').where({ email: unverified.email }).update({ email_verified_at: null });
    for (const { hostname } of [off, unverified])
      await hostWhere(hostname).update({ last_seen_at: stack.mydns.db.raw("now() - interval '24 days'") });
    await maintenance();
    assert.equal(await queued(off.email, 'dormancy_warning'), 0);
    assert.equal(await queued(unverified.email, 'dormancy_warning'), 0);

    await stack.mydns
      .db('accounts')
      .where({ email: unverified.email })
      .update({ email_verified_at: new Date() });
    await maintenance();
    assert.equal(await queued(unverified.email, 'dormancy_warning'), 1, 'verified within the period');

    await hostWhere(off.hostname).update({ last_seen_at: stack.mydns.db.raw("now() - interval '31 days'") });
    const report = await maintenance();
    assert.ok(report?.dormant.includes(off.hostname));
    assert.equal(await queued(off.email, 'dormant'), 0);
  });

  test('two passes at once (two replicas) send each mail once', async () => {
    // 60 hosts in 12 accounts, made in bulk: enough that the two claims overlap.
    const tag = randomBytes(3).toString('hex');
    const emails = Array.from({ length: 12 }, (_, i) => `p${i}-${tag}@example.org`);
    const accounts: { id: number }[] = await stack.mydns
      .db('accounts')
      .insert(emails.map((email) => ({ email, password_hash: '', email_verified_at: new Date() })))
      .returning('id');
    await stack.mydns.db('hosts').insert(
      accounts.flatMap((account, a) =>
        Array.from({ length: 5 }, (_, h) => ({
          zone: stack.mydns.zone,
          name: `p${tag}-${a}-${h}`,
          password_hash: '',
          account_id: account.id,
          notify_email: true,
          ipv4: '192.0.2.20',
          last_seen_at: stack.mydns.db.raw("now() - interval '24 days'"),
        })),
      ),
    );
    const replica = () =>
      createDormancyNotices({
        db: stack.mydns.db,
        notices: createDormancyNoticesRepository(),
        mail: stack.mydns.services.mail,
        inactivityDays: 30,
        warningDays: 7,
      });
    await Promise.all([replica().runOnce(new Date()), replica().runOnce(new Date())]);
    for (const email of emails) assert.equal(await queued(email, 'dormancy_warning'), 5, email);

    // The whole maintenance pass twice at once: the dormant notices go out once too.
    await stack.mydns
      .db('hosts')
      .where('name', 'like', `p${tag}-%`)
      .update({ last_seen_at: stack.mydns.db.raw("now() - interval '31 days'") });
    const both = await Promise.all([maintenance(), maintenance()]);
    assert.ok(both.includes(undefined), 'one pass at a time (the advisory lock)');
    for (const email of emails) assert.equal(await queued(email, 'dormant'), 5, email);
    await mailsTo(emails[0] ?? '', /is dormant/, 5);
  });

  test('the claims read their partial indexes, not every host', async () => {
    // 10,000 hosts without notices (most hosts): a scan of them all is what must not happen.
    // The last test of the file: no pass runs after it (the database goes with the file).
    // In statements of 1,000: each stays within the test database's query timeout on a busy machine.
    for (let from = 1; from <= 10_000; from += 1000) {
      await stack.mydns.db.raw(
        `insert into hosts (zone, name, password_hash, ipv4, last_seen_at)
         select ?, 'bulk' || g, '', '192.0.2.30', now() - (g % 40) * interval '1 day'
           from generate_series(?::int, ?::int) g`,
        [stack.mydns.zone, from, from + 999],
      );
    }
    await stack.mydns.db.raw('analyze hosts');
    const now = Date.now();
    const plans = {
      warnings: await explain(DORMANCY_QUERIES.warnings, [
        new Date(now - 23 * DAY),
        new Date(now - 30 * DAY),
        500,
      ]),
      dormant: await explain(DORMANCY_QUERIES.dormant, [500]),
    };
    assert.ok(plans.warnings.indexes.includes('hosts_dormancy_warning_due'), String(plans.warnings.indexes));
    assert.ok(plans.dormant.indexes.includes('hosts_dormancy_notice_due'), String(plans.dormant.indexes));
    for (const plan of Object.values(plans)) assert.deepEqual(plan.scannedWhole, []);
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** The hosts indexes a statement's plan reads, and the tables it reads whole. */
async function explain(query: string, values: unknown[]) {
  const { rows } = await stack.mydns.db.raw<{ rows: { 'QUERY PLAN': { Plan: PlanNode }[] }[] }>(
    `explain (format json) ${query}`,
    values as never[],
  );
  const nodes: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    nodes.push(node);
    for (const child of node.Plans ?? []) walk(child);
  };
  const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
  assert.ok(plan);
  walk(plan);
  return {
    indexes: nodes
      .filter((node) => node['Relation Name'] === 'hosts' && node['Index Name'])
      .map((node) => node['Index Name']),
    scannedWhole: nodes
      .filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'hosts')
      .map((node) => node['Relation Name']),
  };
}
