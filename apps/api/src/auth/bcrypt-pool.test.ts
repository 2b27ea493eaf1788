import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { BcryptBusyError, createBcryptPool } from './bcrypt-pool.ts';

// Cost 8: a few milliseconds per compare, slow enough that jobs queue up.
const HASH = bcrypt.hashSync('right password', 8);

describe('createBcryptPool: bounded and fair', () => {
  const pool = createBcryptPool({ threads: 1, maxQueued: 20, maxPerOwner: 4 });
  after(() => pool.close());

  test('compare and hash work', async () => {
    assert.equal(await pool.compare('right password', HASH), true);
    assert.equal(await pool.compare('wrong', HASH), false);
    assert.equal(await pool.compare('right password', await pool.hash('right password', 4)), true);
  });

  test('one owner holds at most maxPerOwner jobs; the rest are refused at once', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => pool.compare('wrong', HASH, 'flood')),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
    for (const result of results.filter((r) => r.status === 'rejected'))
      assert.ok(result.reason instanceof BcryptBusyError);
    assert.ok(pool.stats().refused >= 6);
  });

  test('owners take turns: a newcomer waits behind at most one job of each other owner', async () => {
    const order: string[] = [];
    const flood = Array.from({ length: 4 }, (_, i) =>
      pool.compare('wrong', HASH, 'flood').then(() => order.push(`flood${i}`)),
    );
    const cold = pool.compare('right password', HASH, 'cold').then((ok) => {
      order.push('cold');
      return ok;
    });
    await Promise.all([...flood, cold]);
    assert.equal(await cold, true);
    assert.ok(order.indexOf('cold') <= 2, `cold came ${order.indexOf('cold') + 1}th of ${order.join(', ')}`);
  });

  test('the whole queue is bounded too', async () => {
    const owners = Array.from({ length: 30 }, (_, i) => `source${i}`);
    const results = await Promise.allSettled(owners.map((owner) => pool.compare('wrong', HASH, owner)));
    const refused = results.filter((r) => r.status === 'rejected');
    // One job runs at once, 20 may wait: the rest are refused.
    assert.equal(refused.length, 30 - 21);
  });

  test('hashes (registrations, password changes) wait instead of being refused', async () => {
    const hashes = await Promise.all(Array.from({ length: 8 }, () => pool.hash('some password', 4, 'one')));
    assert.equal(hashes.length, 8);
  });
});
