import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Attempt, createLoginGuard, type LoginGuardOptions } from './login-guard.ts';

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

function admitOrFail(guard: ReturnType<typeof createLoginGuard>, source: string, host: string): Attempt {
  const admission = guard.admit(source, host);
  assert.ok(admission.admitted, `${source} → ${host} admitted`);
  return admission.attempt;
}

describe('createLoginGuard: checks in flight count before their outcome', () => {
  test('parallel checks: at most the limit is admitted, the rest are refused at once', () => {
    const { guard } = guardWith({ sourceHost: { count: 100, windowMs: 60_000 } });
    const admissions = Array.from({ length: 300 }, () => guard.admit('198.51.100.7', 'alice'));
    assert.equal(admissions.filter((a) => a.admitted).length, 5);
    assert.deepEqual(
      new Set(admissions.filter((a) => !a.admitted).map((a) => !a.admitted && a.scope)),
      new Set(['source']),
    );
  });

  test('a success gives its check back; a failure keeps it', () => {
    const { guard } = guardWith({ sourceHost: { count: 100, windowMs: 60_000 } });
    for (let i = 0; i < 20; i++) admitOrFail(guard, 's', `host${i}`).succeeded();
    for (let i = 0; i < 4; i++) admitOrFail(guard, 's', 'alice').failed();
    admitOrFail(guard, 's', 'bob').succeeded();
    admitOrFail(guard, 's', 'alice').failed();
    assert.equal(guard.admit('s', 'carol').admitted, false, 'the fifth failure blocks the source');
    assert.equal(guard.isBlocked('s'), true);
  });

  test('cancelled (the bcrypt queue refused) gives the check back; a second outcome is ignored', () => {
    const { guard } = guardWith({ source: { count: 1, windowMs: 60_000 } });
    const attempt = admitOrFail(guard, 's', 'alice');
    assert.equal(guard.admit('s', 'alice').admitted, false, 'one check in flight is the limit');
    attempt.cancelled();
    attempt.failed();
    assert.equal(guard.admit('s', 'alice').admitted, true);
  });

  test('per (source, host): guessing at one host is stopped before the whole address is', () => {
    const { guard, blocks } = guardWith();
    for (let i = 0; i < 3; i++) admitOrFail(guard, 's', 'alice').failed();
    const refused = guard.admit('s', 'alice');
    assert.equal(refused.admitted, false);
    assert.equal(!refused.admitted && refused.scope, 'source_host');
    assert.equal(guard.isBlocked('s', 'alice'), true);
    assert.equal(guard.isBlocked('s'), false, 'the source itself is not blocked');
    admitOrFail(guard, 's', 'bob').failed();
    admitOrFail(guard, 's', 'carol').failed();
    assert.equal(guard.admit('s', 'dave').admitted, false, 'five failures in all block the source');
    assert.deepEqual(blocks, ['source_host s alice', 'source s carol']);
  });

  test('sources are counted apart', () => {
    const { guard } = guardWith();
    for (let i = 0; i < 5; i++) admitOrFail(guard, 'a', `h${i}`).failed();
    assert.equal(guard.admit('a', 'x').admitted, false);
    assert.equal(guard.admit('b', 'x').admitted, true);
  });

  test('a block lasts blockMs, even past the window; then counting starts again', () => {
    const clock = guardWith();
    const { guard } = clock;
    for (let i = 0; i < 5; i++) admitOrFail(guard, 's', `h${i}`).failed();
    clock.advance(120_000);
    assert.equal(guard.admit('s', 'x').admitted, false, 'still blocked after the window');
    clock.advance(180_001);
    assert.equal(guard.isBlocked('s'), false);
    admitOrFail(guard, 's', 'x').failed();
    assert.equal(guard.admit('s', 'y').admitted, true, 'one failure of a new window');
  });

  test('without a block, failures are forgotten when the window ends', () => {
    const clock = guardWith();
    const { guard } = clock;
    for (let i = 0; i < 4; i++) admitOrFail(guard, 's', `h${i}`).failed();
    clock.advance(60_000);
    for (let i = 0; i < 4; i++) admitOrFail(guard, 's', `k${i}`).failed();
    assert.equal(guard.isBlocked('s'), false);
  });

  test('the keys held are bounded', () => {
    const { guard } = guardWith({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++) admitOrFail(guard, `s${i}`, 'alice').failed();
    assert.ok(guard.size() <= 101, `${guard.size()} keys`);
  });
});
