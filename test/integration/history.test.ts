import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * The owner's update history: an update is listed at once (not after the
 * recorder's next flush), and a refused one says why, in a person's words.
 */

const PASSWORD = 'a-history-secret';

interface Entry {
  result: string;
  reason: string | null;
  new: { ipv4: string | null };
}

describe('update history', () => {
  let mydns: TestMyDns;
  before(async () => {
    // Strict about addresses: the test's own 127.0.0.1 is not a host's address.
    mydns = await startTestMyDns({ env: { MYDNS_ALLOW_PRIVATE_ADDRESSES: 'false' } });
    await mydns.createHost('chronicle', PASSWORD);
  });
  after(async () => {
    await mydns?.stop();
  });

  const history = async (): Promise<Entry[]> => {
    const reply = await mydns.request('/api/v1/hosts/chronicle/history', { auth: ['chronicle', PASSWORD] });
    assert.equal(reply.status, 200);
    return (JSON.parse(reply.body) as { history: Entry[] }).history;
  };

  test('right after good, the history lists the update', async () => {
    const reply = await mydns.request('/nic/update?hostname=chronicle&myip=8.8.4.4', {
      auth: ['chronicle', PASSWORD],
    });
    assert.equal(reply.body, 'good 8.8.4.4');
    const [latest] = await history();
    assert.equal(latest?.result, 'good');
    assert.equal(latest?.new.ipv4, '8.8.4.4');
    assert.equal(latest?.reason, null);
  });

  test('a refused update says why', async () => {
    const reply = await mydns.request('/nic/update?hostname=chronicle', { auth: ['chronicle', PASSWORD] });
    assert.equal(reply.body, 'dnserr');
    const [latest] = await history();
    assert.equal(latest?.result, 'dnserr');
    assert.equal(latest?.reason, 'no public address: the request came from 127.0.0.1');
  });
});
