import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClaimedWebhookEvent, WebhookAttempt, WebhooksRepository } from '@mydns/db';
import { createLogger } from '@mydns/runtime';
import type { PostOutcome, WebhookRequest } from './deliver.ts';
import { isValidSignature, secretText } from './signature.ts';
import { createWebhookWorker } from './worker.ts';

const POLICY = { retryMs: 10_000, retryMaxMs: 600_000, giveUpMs: 3_600_000 };
const SECRET = Buffer.alloc(32, 1);

function event(overrides: Partial<ClaimedWebhookEvent> = {}): ClaimedWebhookEvent {
  return {
    id: 1,
    deliveryId: '6f1c1f5e-0000-4000-8000-000000000001',
    event: 'address_changed',
    zone: 'dyn.example.net',
    name: 'home',
    old: { ipv4: '192.0.2.1', ipv6: null },
    new: { ipv4: '192.0.2.2', ipv6: null },
    at: new Date('2026-12-07T09:00:00Z'),
    url: 'https://hooks.example.com/in?key=k',
    secret: SECRET,
    attempts: 1,
    ageMs: 0,
    ...overrides,
  };
}

/** An outbox of the given claimed events that records what the worker made of each. */
function fakeOutbox(claimed: ClaimedWebhookEvent[]) {
  const settled: { id: number; as: string; delayMs?: number; attempt?: WebhookAttempt }[] = [];
  const repository: Pick<WebhooksRepository, 'claim' | 'delivered' | 'defer' | 'fail' | 'release' | 'prune'> =
    {
      claim: async () => claimed.splice(0),
      delivered: async (id, attempt) => void settled.push({ id, as: 'delivered', attempt }),
      defer: async (id, delayMs, attempt) => void settled.push({ id, as: 'deferred', delayMs, attempt }),
      fail: async (id, attempt) => void settled.push({ id, as: 'failed', attempt }),
      release: async (ids) => void settled.push(...ids.map((id) => ({ id, as: 'released' }))),
      prune: async () => 0,
    };
  return { repository, settled };
}

function worker(
  claimed: ClaimedWebhookEvent[],
  answer: (request: WebhookRequest) => PostOutcome,
  resolved: Record<string, string[]> = { 'hooks.example.com': ['93.184.215.14'] },
) {
  const outbox = fakeOutbox(claimed);
  const posts: WebhookRequest[] = [];
  const running = createWebhookWorker({
    repository: outbox.repository,
    resolve: async (name) => resolved[name] ?? [],
    allowPrivate: false,
    policy: POLICY,
    logger: createLogger({ level: 'error', format: 'pretty', silent: true }),
    post: async (request) => {
      posts.push(request);
      return answer(request);
    },
  });
  return { running, posts, settled: outbox.settled };
}

describe('the webhook worker', () => {
  test('posts the signed body to the checked address, with the event and delivery ids', async () => {
    const { running, posts, settled } = worker([event()], () => ({ ok: true, httpStatus: 200 }));
    assert.deepEqual(await running.runOnce(), { claimed: 1, delivered: 1, deferred: 0, failed: 0 });
    const [sent] = posts;
    assert.ok(sent);
    assert.equal(sent.address, '93.184.215.14');
    assert.equal(sent.url.href, 'https://hooks.example.com/in?key=k');
    assert.equal(sent.headers['x-mydns-event'], 'address_changed');
    assert.equal(sent.headers['x-mydns-delivery'], event().deliveryId);
    assert.ok(isValidSignature(secretText(SECRET), sent.body, sent.headers['x-mydns-signature']));
    assert.equal(JSON.parse(sent.body).hostname, 'home.dyn.example.net');
    assert.deepEqual(settled, [{ id: 1, as: 'delivered', attempt: { httpStatus: 200, error: null } }]);
  });

  test('a name that resolves to a private address now is not connected to (DNS rebinding)', async () => {
    const { running, posts, settled } = worker([event()], () => ({ ok: true, httpStatus: 200 }), {
      'hooks.example.com': ['93.184.215.14', '127.0.0.1'],
    });
    assert.equal((await running.runOnce()).deferred, 1);
    assert.equal(posts.length, 0);
    assert.match(settled[0]?.attempt?.error ?? '', /refused: 127\.0\.0\.1 is special-purpose/);
  });

  test('failures wait 10 s, doubling; past an hour the event is given up', async () => {
    const failing = () => ({ ok: false as const, httpStatus: 503, error: 'HTTP 503' });
    const early = worker([event({ attempts: 3, ageMs: 60_000 })], failing);
    await early.running.runOnce();
    assert.deepEqual(early.settled, [
      { id: 1, as: 'deferred', delayMs: 40_000, attempt: { httpStatus: 503, error: 'HTTP 503' } },
    ]);
    const late = worker([event({ attempts: 9, ageMs: 3_500_000 })], failing);
    await late.running.runOnce();
    assert.equal(late.settled[0]?.as, 'failed');
  });
});
