/**
 * Address-change notices by mail (README "Accounts", "Notices") against the
 * real Postgres, PowerDNS and a real smarthost (aiosmtpd): on per host of an
 * account, at most one mail per host per 10 minutes collecting what happened
 * (the clock injected here), nothing for a host with them off, refused for a
 * host without an account. The service's own pass is kept out of the way
 * (MYDNS_MAINTENANCE_INTERVAL=1h); this test drives one with its own clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createAddressNoticesRepository } from '@mydns/db';
import { createLogger } from '@mydns/runtime';
import { createAddressNotices } from '../../apps/api/src/notifications/address-notices.ts';
import {
  type Auth,
  sendJson,
  textOf,
  useMyDnsWithSmarthost,
  verifiedAccountWithHost,
} from '../support/notices.ts';
import type { SmarthostMessage } from '../support/smarthost.ts';
import { waitFor } from '../support/wait.ts';

const stack = useMyDnsWithSmarthost();

/** A notice pass of the test's own (the service's waits an hour), with its clock when given. */
const addressNotices = (now?: () => Date) =>
  createAddressNotices({
    db: stack.mydns.db,
    notices: createAddressNoticesRepository(stack.mydns.db),
    mail: stack.mydns.services.mail,
    logger: createLogger({ level: 'error', format: 'pretty', silent: true }),
    everyMs: 3_600_000,
    ...(now ? { now } : {}),
  });
const send = (path: string, method: string, body: unknown, auth: Auth) =>
  sendJson(stack.mydns, path, method, body, auth);

const noticesTo = (to: string) =>
  stack.peer.messages().filter((m) => m.to.includes(to) && /address changed/.test(m.headers.subject ?? ''));
async function waitForNotices(to: string, count: number): Promise<SmarthostMessage[]> {
  await waitFor(() => noticesTo(to).length >= count, {
    message: `${count} notices to ${to}`,
    timeoutMs: 15_000,
  });
  return noticesTo(to);
}

describe('address-change notices', () => {
  test('one mail per host per 10 minutes, collecting the changes in between; off means none', async () => {
    const { email, auth, hostname } = await verifiedAccountWithHost(stack.mydns);
    const on = await send(`/api/v1/hosts/${hostname}`, 'PATCH', { notify: { email: true } }, auth);
    assert.equal(on.status, 200, on.body);
    assert.deepEqual(JSON.parse(on.body).notify, { email: true });

    let clock = new Date('2026-12-02T12:00:00Z');
    const notices = addressNotices(() => clock);
    const update = async (ip: string) =>
      assert.equal(
        (await stack.mydns.request(`/nic/update?hostname=${hostname}&myip=${ip}`, { auth })).body,
        `good ${ip}`,
      );

    assert.equal(await notices.runOnce(), 0, 'nothing changed since they were switched on');
    await update('192.0.2.1');
    assert.equal(await notices.runOnce(), 1);
    const [first] = await waitForNotices(email, 1);
    assert.equal(first?.headers.subject, `${hostname}: the address changed`);
    assert.match(textOf(first), /Before: none \(withdrawn\)\s+Now: +192\.0\.2\.1/);

    // Two more changes within 10 minutes: no mail yet; then one mail with the first and the last.
    clock = new Date(clock.getTime() + 60_000);
    await update('192.0.2.2');
    await update('192.0.2.3');
    assert.equal(await notices.runOnce(), 0, 'within 10 minutes of the last notice');
    clock = new Date(clock.getTime() + 9 * 60_000);
    assert.equal(await notices.runOnce(), 1, '10 minutes after the last notice');
    const [, second] = await waitForNotices(email, 2);
    assert.match(textOf(second), /Before: 192\.0\.2\.1\s+Now: +192\.0\.2\.3/);
    assert.ok(textOf(second).includes('https://dyn.example.net/account'));
    assert.equal(await notices.runOnce(), 0, 'told once');

    // Off: changes are not mailed.
    const off = await send(`/api/v1/hosts/${hostname}`, 'PATCH', { notify: { email: null } }, auth);
    assert.deepEqual(JSON.parse(off.body).notify, { email: false });
    clock = new Date(clock.getTime() + 60 * 60_000);
    await update('192.0.2.4');
    assert.equal(await notices.runOnce(), 0);
  });

  test('one pass queues every notice due, not only its first batch of 100', async () => {
    // 150 hosts, each in an account of its own, made in bulk, each changed since it was last told.
    const tag = randomBytes(3).toString('hex');
    const accounts: { id: number }[] = await stack.mydns
      .db('accounts')
      .insert(
        Array.from({ length: 150 }, (_, i) => ({
          email: `b${i}-${tag}@example.org`,
          password_hash: '',
          email_verified_at: new Date(),
        })),
      )
      .returning('id');
    await stack.mydns.db('hosts').insert(
      accounts.map((account, i) => ({
        zone: stack.mydns.zone,
        name: `b${tag}-${i}`,
        password_hash: '',
        account_id: account.id,
        notify_email: true,
        ipv4: '192.0.2.40',
      })),
    );
    const notices = addressNotices();
    assert.equal(await notices.runOnce(), 150);
    assert.equal(await notices.runOnce(), 0);
  });

  test('a host of its own cannot have them (no account to mail); bad values are refused', async () => {
    const label = `own${randomBytes(3).toString('hex')}`;
    await stack.mydns.createHost(label, 'own-host-password-1');
    const refused = await send(`/api/v1/hosts/${label}`, 'PATCH', { notify: { email: true } }, [
      label,
      'own-host-password-1',
    ]);
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.body).error.code, 'invalid_notify');
    const { auth, hostname } = await verifiedAccountWithHost(stack.mydns);
    const bad = await send(`/api/v1/hosts/${hostname}`, 'PATCH', { notify: { email: 'yes' } }, auth);
    assert.equal(bad.status, 400);
  });
});
