import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Attempt,
  createLoginGuard,
  type LoginGuardOptions,
  type SharedFailureStore,
} from './login-guard.ts';

function guardWith(overrides: Partial<LoginGuardOptions> = {}) {
  let now = 1_000_000;
  const blocks: string[] = [];
  const guard = createLoginGuard({
    source: { count: 5, windowMs: 60_000 },
    sourceHost: { count: 3, windowMs: 60_000 },
    blockMs: 300_000,
    now: () => now,
    onBlock: (block) => blocks.push(`${block.scope} ${block.source} ${block.host}`),
    ...overrides,
  });
  return {
    guard,
    blocks,
    advance(ms: number) {
      now += ms;
    },
  };
}

async function admitOrFail(
  guard: ReturnType<typeof createLoginGuard>,
  source: string,
  host: string,
): Promise<Attempt> {
  const admission = await guard.admit(source, host);
  assert.ok(admission.admitted, `${source} → ${host} admitted`);
  return admission.attempt;
}

describe('createLoginGuard: checks in flight count before their outcome', () => {
  test('parallel checks: at most the limit is admitted, the rest are refused at once', async () => {
    const { guard } = guardWith({ sourceHost: { count: 100, windowMs: 60_000 } });
    const admissions = await Promise.all(
      Array.from({ length: 300 }, () => guard.admit('198.51.100.7', 'alice')),
    );
    assert.equal(admissions.filter((a) => a.admitted).length, 5);
    assert.deepEqual(
      new Set(admissions.filter((a) => !a.admitted).map((a) => !a.admitted && a.scope)),
      new Set(['source']),
    );
  });

  test('a success gives its check back; a failure keeps it', async () => {
    const { guard } = guardWith({ sourceHost: { count: 100, windowMs: 60_000 } });
    for (let i = 0; i < 20; i++) (await admitOrFail(guard, 's', `host${i}`)).succeeded();
    for (let i = 0; i < 4; i++) await (await admitOrFail(guard, 's', 'alice')).failed();
    (await admitOrFail(guard, 's', 'bob')).succeeded();
    await (await admitOrFail(guard, 's', 'alice')).failed();
    assert.equal((await guard.admit('s', 'carol')).admitted, false, 'the fifth failure blocks the source');
    assert.equal(guard.isBlocked('s'), true);
  });

  test('cancelled (the bcrypt queue refused) gives the check back; a second outcome is ignored', async () => {
    const { guard } = guardWith({ source: { count: 1, windowMs: 60_000 } });
    const attempt = await admitOrFail(guard, 's', 'alice');
    assert.equal((await guard.admit('s', 'alice')).admitted, false, 'one check in flight is the limit');
    attempt.cancelled();
    await attempt.failed();
    assert.equal((await guard.admit('s', 'alice')).admitted, true);
  });

  test('per (source, host): guessing at one host is stopped before the whole address is', async () => {
    const { guard, blocks } = guardWith();
    for (let i = 0; i < 3; i++) await (await admitOrFail(guard, 's', 'alice')).failed();
    const refused = await guard.admit('s', 'alice');
    assert.equal(refused.admitted, false);
    assert.equal(!refused.admitted && refused.scope, 'source_host');
    assert.equal(guard.isBlocked('s', 'alice'), true);
    assert.equal(guard.isBlocked('s'), false, 'the source itself is not blocked');
    await (await admitOrFail(guard, 's', 'bob')).failed();
    await (await admitOrFail(guard, 's', 'carol')).failed();
    assert.equal((await guard.admit('s', 'dave')).admitted, false, 'five failures in all block the source');
    assert.deepEqual(blocks, ['source_host s alice', 'source s carol']);
  });

  test('sources are counted apart', async () => {
    const { guard } = guardWith();
    for (let i = 0; i < 5; i++) await (await admitOrFail(guard, 'a', `h${i}`)).failed();
    assert.equal((await guard.admit('a', 'x')).admitted, false);
    assert.equal((await guard.admit('b', 'x')).admitted, true);
  });

  test('a block lasts blockMs, even past the window; then counting starts again', async () => {
    const clock = guardWith();
    const { guard } = clock;
    for (let i = 0; i < 5; i++) await (await admitOrFail(guard, 's', `h${i}`)).failed();
    clock.advance(120_000);
    assert.equal((await guard.admit('s', 'x')).admitted, false, 'still blocked after the window');
    clock.advance(180_001);
    assert.equal(guard.isBlocked('s'), false);
    await (await admitOrFail(guard, 's', 'x')).failed();
    assert.equal((await guard.admit('s', 'y')).admitted, true, 'one failure of a new window');
  });

  test('without a block, failures are forgotten when the window ends', async () => {
    const clock = guardWith();
    const { guard } = clock;
    for (let i = 0; i < 4; i++) await (await admitOrFail(guard, 's', `h${i}`)).failed();
    clock.advance(60_000);
    for (let i = 0; i < 4; i++) await (await admitOrFail(guard, 's', `k${i}`)).failed();
    assert.equal(guard.isBlocked('s'), false);
  });

  test('the keys held are bounded', async () => {
    const { guard } = guardWith({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++) await (await admitOrFail(guard, `s${i}`, 'alice')).failed();
    assert.ok(guard.size() <= 101, `${guard.size()} keys`);
  });
});

describe('createLoginGuard: failures shared by replicas', () => {
  /** An in-memory stand-in for the login_failures table (packages/db login-failures-repository.ts). */
  function sharedStore(now: () => number): SharedFailureStore {
    const rows = new Map<string, { failures: number; windowStart: Date; blockedUntil: Date | null }>();
    return {
      async read(keys) {
        return new Map(
          keys.flatMap((key) => (rows.has(key) ? [[key, { ...rows.get(key) }] as const] : [])) as never,
        );
      },
      async record(failures, blockMs) {
        const started: { key: string; blockedUntil: Date }[] = [];
        for (const { key, limit, windowMs } of failures) {
          const at = now();
          const row = rows.get(key);
          const blocked = (row?.blockedUntil?.getTime() ?? 0) > at;
          const fresh = !row || (row.windowStart.getTime() + windowMs <= at && !blocked);
          const next = fresh
            ? { failures: 1, windowStart: new Date(at), blockedUntil: row?.blockedUntil ?? null }
            : { ...row, failures: row.failures + 1 };
          if (!blocked && next.failures >= limit) {
            next.blockedUntil = new Date(at + blockMs);
            started.push({ key, blockedUntil: next.blockedUntil });
          }
          rows.set(key, next);
        }
        return started;
      },
    };
  }

  test('two replicas: failures through one count against the other, so the limit is not doubled', async () => {
    let now = 1_000_000;
    const store = sharedStore(() => now);
    const replica = () =>
      createLoginGuard({
        source: { count: 5, windowMs: 60_000 },
        sourceHost: { count: 100, windowMs: 60_000 },
        blockMs: 300_000,
        now: () => now,
        shared: store,
      });
    const a = replica();
    const b = replica();
    for (let i = 0; i < 3; i++) await (await admitOrFail(a, 's', `h${i}`)).failed();
    await (await admitOrFail(b, 's', 'x')).failed();
    await (await admitOrFail(b, 's', 'y')).failed();
    assert.equal((await a.admit('s', 'z')).admitted, false, 'A sees the failures B counted');
    assert.equal((await b.admit('s', 'z')).admitted, false, 'and B those of A');
    assert.equal((await b.admit('other', 'z')).admitted, true);
    now += 300_001;
    assert.equal((await a.admit('s', 'z')).admitted, true, 'the block ends for both');
  });

  test('a shared store that fails: each replica counts alone, and the login goes on', async () => {
    const errors: unknown[] = [];
    const broken: SharedFailureStore = {
      read: async () => {
        throw new Error('Postgres is away');
      },
      record: async () => {
        throw new Error('Postgres is away');
      },
    };
    const guard = createLoginGuard({
      source: { count: 2, windowMs: 60_000 },
      sourceHost: { count: 100, windowMs: 60_000 },
      blockMs: 300_000,
      shared: broken,
      onSharedError: (error) => errors.push(error),
    });
    await (await admitOrFail(guard, 's', 'a')).failed();
    await (await admitOrFail(guard, 's', 'b')).failed();
    assert.equal((await guard.admit('s', 'c')).admitted, false, 'the local count still blocks');
    assert.ok(errors.length >= 2);
  });
});
