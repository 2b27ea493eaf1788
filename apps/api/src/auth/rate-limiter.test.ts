import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRateLimiter } from './rate-limiter.ts';

function clock(start = 0) {
  let now = start;
  return {
    now: () => now,
    set(value: number) {
      now = value;
    },
  };
}

describe('createRateLimiter: fixed windows', () => {
  test('count events pass, the next one is over the limit', () => {
    const limiter = createRateLimiter({ count: 3, windowMs: 1000, now: () => 0 });
    assert.deepEqual([limiter.hit('a'), limiter.hit('a'), limiter.hit('a')], [true, true, true]);
    assert.equal(limiter.isLimited('a'), false, 'exactly count events is still fine');
    assert.equal(limiter.hit('a'), false);
    assert.equal(limiter.isLimited('a'), true);
    assert.equal(limiter.hit('a'), false);
  });

  test('keys are counted apart', () => {
    const limiter = createRateLimiter({ count: 1, windowMs: 1000, now: () => 0 });
    assert.equal(limiter.hit('alice'), true);
    assert.equal(limiter.hit('alice'), false);
    assert.equal(limiter.hit('bob'), true);
    assert.equal(limiter.isLimited('bob'), false);
    assert.equal(limiter.size(), 2);
  });

  test('the window starts at the first event and ends windowMs later', () => {
    const time = clock(10_000);
    const limiter = createRateLimiter({ count: 2, windowMs: 1000, now: time.now });
    limiter.hit('a');
    time.set(10_500);
    limiter.hit('a');
    time.set(10_999);
    assert.equal(limiter.hit('a'), false);
    assert.equal(limiter.isLimited('a'), true);
    time.set(11_000);
    assert.equal(limiter.isLimited('a'), false, 'limited until the window has passed');
    assert.equal(limiter.hit('a'), true);
    assert.equal(limiter.hit('a'), true);
    assert.equal(limiter.hit('a'), false);
  });

  test('isLimited does not count', () => {
    const limiter = createRateLimiter({ count: 1, windowMs: 1000, now: () => 0 });
    for (let i = 0; i < 5; i++) assert.equal(limiter.isLimited('a'), false);
    assert.equal(limiter.size(), 0);
    assert.equal(limiter.hit('a'), true);
  });

  test('the default host limit: 30 updates per 10 minutes pass, the 31st is abuse', () => {
    const time = clock(0);
    const limiter = createRateLimiter({ count: 30, windowMs: 600_000, now: time.now });
    for (let i = 0; i < 30; i++) {
      time.set(i * 19_000);
      assert.equal(limiter.hit('host:1'), true, `update ${i + 1}`);
    }
    time.set(599_999);
    assert.equal(limiter.hit('host:1'), false);
    time.set(600_000);
    assert.equal(limiter.hit('host:1'), true);
  });
});

describe('createRateLimiter: blocking', () => {
  test('over the limit blocks for blockMs from that event, even past the window', () => {
    const time = clock(0);
    const limiter = createRateLimiter({ count: 2, windowMs: 1000, blockMs: 5000, now: time.now });
    limiter.hit('peer');
    limiter.hit('peer');
    time.set(100);
    assert.equal(limiter.hit('peer'), false);
    time.set(2000);
    assert.equal(limiter.isLimited('peer'), true, 'the window has passed, the block has not');
    assert.equal(limiter.hit('peer'), false);
    time.set(5099);
    assert.equal(limiter.isLimited('peer'), true);
    time.set(5100);
    assert.equal(limiter.isLimited('peer'), false);
    assert.equal(limiter.hit('peer'), true);
  });

  test('events during a block do not extend it', () => {
    const time = clock(0);
    const limiter = createRateLimiter({ count: 1, windowMs: 1000, blockMs: 3000, now: time.now });
    limiter.hit('peer');
    assert.equal(limiter.hit('peer'), false);
    for (const at of [500, 1500, 2500, 2999]) {
      time.set(at);
      assert.equal(limiter.hit('peer'), false, `at ${at}`);
    }
    time.set(3000);
    assert.equal(limiter.hit('peer'), true);
  });

  test('the default login guard: 20 failures pass, the 21st blocks for 15 minutes', () => {
    const time = clock(0);
    const limiter = createRateLimiter({ count: 20, windowMs: 600_000, blockMs: 900_000, now: time.now });
    for (let i = 0; i < 20; i++) assert.equal(limiter.hit('198.51.100.4'), true);
    assert.equal(limiter.isLimited('198.51.100.4'), false);
    time.set(60_000);
    assert.equal(limiter.hit('198.51.100.4'), false);
    time.set(959_999);
    assert.equal(limiter.isLimited('198.51.100.4'), true);
    time.set(960_000);
    assert.equal(limiter.isLimited('198.51.100.4'), false);
  });
});

describe('createRateLimiter: memory bound', () => {
  test('when full, expired windows are dropped first', () => {
    const time = clock(0);
    const limiter = createRateLimiter({ count: 1, windowMs: 1000, maxKeys: 2, now: time.now });
    limiter.hit('old');
    time.set(500);
    limiter.hit('busy');
    limiter.hit('busy');
    time.set(1200);
    limiter.hit('new');
    assert.equal(limiter.size(), 2);
    assert.equal(limiter.isLimited('busy'), true, 'a live limited key survives');
  });

  test('still full: the oldest key goes rather than the map growing', () => {
    const limiter = createRateLimiter({ count: 1, windowMs: 1000, maxKeys: 2, now: () => 0 });
    limiter.hit('a');
    limiter.hit('a');
    limiter.hit('b');
    limiter.hit('c');
    assert.equal(limiter.size(), 2);
    assert.equal(limiter.isLimited('a'), false);
    assert.equal(limiter.hit('c'), false);
  });
});
