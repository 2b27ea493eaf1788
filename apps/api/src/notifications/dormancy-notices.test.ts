import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Database, DormancyMailDue, DormancyNoticesRepository } from '@mydns/db';
import { createMailLinks } from '../mail/links.ts';
import type { MailRequest } from '../mail/outbox.ts';
import { createDormancyNotices } from './dormancy-notices.ts';

/**
 * The dormancy mails' service with fakes (the claims themselves are tested
 * against Postgres in test/integration/dormancy-notices.test.ts): the windows
 * it asks for, the batches it drains, what the mails say and link to.
 */

const DAY = 86_400_000;
const NOW = new Date('2026-12-20T12:00:00Z');
const links = createMailLinks('https://dyn.example.net');

function due(index: number, lastActivity: Date): DormancyMailDue {
  return {
    hostId: index,
    zone: 'dyn.example.net',
    name: `h${index}`,
    email: `o${index}@example.org`,
    lastActivity,
  };
}

function setup(
  options: { warnings?: DormancyMailDue[]; dormant?: DormancyMailDue[]; enabled?: boolean } = {},
) {
  const queued: MailRequest[] = [];
  const windows: { warnBefore: Date; dormantBefore: Date }[] = [];
  let transactions = 0;
  const take = (rows: DormancyMailDue[], size: number) => rows.splice(0, size);
  const notices: DormancyNoticesRepository = {
    takeWarnings: async (_trx, window, size) => {
      windows.push(window);
      return take(options.warnings ?? [], size);
    },
    takeDormant: async (_trx, size) => take(options.dormant ?? [], size),
  };
  const db = {
    transaction: async (work: (trx: unknown) => Promise<unknown>) => {
      transactions++;
      return work({});
    },
  } as unknown as Database;
  const service = (warningDays: number) =>
    createDormancyNotices({
      db,
      notices,
      mail: {
        enabled: options.enabled ?? true,
        links,
        enqueue: async (request) => {
          queued.push(request);
          return { queued: true, id: queued.length };
        },
      },
      inactivityDays: 30,
      warningDays,
    });
  return { service, queued, windows, transactions: () => transactions };
}

describe('dormancy mails', () => {
  test('the warning window: last active 23 to 30 days ago (MYDNS_INACTIVITY_DAYS 30, warning 7)', async () => {
    const { service, windows } = setup();
    assert.deepEqual(await service(7).runOnce(NOW), { warned: 0, toldDormant: 0 });
    assert.deepEqual(windows, [
      { warnBefore: new Date(NOW.getTime() - 23 * DAY), dormantBefore: new Date(NOW.getTime() - 30 * DAY) },
    ]);
  });

  test('every mail due in one pass, in batches of 500, each batch its own transaction', async () => {
    const many = Array.from({ length: 503 }, (_, i) => due(i, new Date(NOW.getTime() - 24 * DAY)));
    const { service, queued, transactions } = setup({ warnings: many });
    assert.deepEqual(await service(7).runOnce(NOW), { warned: 503, toldDormant: 0 });
    assert.equal(queued.length, 503);
    // Dormant: one (short) batch; warnings: 500, then 3.
    assert.equal(transactions(), 3);
  });

  test('the warning: the days left, the day it goes dormant, links under MYDNS_PUBLIC_URL only', async () => {
    const { service, queued } = setup({ warnings: [due(1, new Date(NOW.getTime() - 24 * DAY + 3_600_000))] });
    await service(7).runOnce(NOW);
    const [mail] = queued;
    assert.equal(mail?.kind, 'dormancy_warning');
    assert.equal(mail?.to, 'o1@example.org');
    assert.equal(mail?.subject, 'h1.dyn.example.net goes dormant in 7 days');
    assert.match(mail?.text ?? '', /since 2026-11-26 \(UTC\)\.\nOn 2026-12-26,/);
    assert.match(mail?.html ?? '', /<strong>h1\.dyn\.example\.net<\/strong>/);
    for (const part of [mail?.text ?? '', mail?.html ?? '']) {
      assert.deepEqual(links.foreign(part), []);
      assert.ok(part.includes('https://dyn.example.net/api/v1/hosts/h1.dyn.example.net'));
    }
  });

  test('the dormant notice says how to bring the host back', async () => {
    const { service, queued } = setup({ dormant: [due(2, new Date(NOW.getTime() - 31 * DAY))] });
    assert.deepEqual(await service(7).runOnce(NOW), { warned: 0, toldDormant: 1 });
    const [mail] = queued;
    assert.equal(mail?.kind, 'dormant');
    assert.equal(mail?.subject, 'h2.dyn.example.net is dormant: its addresses left DNS');
    assert.match(mail?.text ?? '', /To bring it back, update it once/);
    assert.deepEqual(links.foreign(mail?.html ?? ''), []);
  });

  test('warning days 0: no warnings asked for; mail off: nothing claimed', async () => {
    const none = setup({ dormant: [due(3, new Date(NOW.getTime() - 31 * DAY))] });
    assert.deepEqual(await none.service(0).runOnce(NOW), { warned: 0, toldDormant: 1 });
    assert.deepEqual(none.windows, []);
    const off = setup({ enabled: false, warnings: [due(4, new Date(NOW.getTime() - 24 * DAY))] });
    assert.deepEqual(await off.service(7).runOnce(NOW), { warned: 0, toldDormant: 0 });
    assert.equal(off.transactions(), 0);
  });
});
