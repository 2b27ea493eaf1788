import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCredentialCache } from './credential-cache.ts';

const HASH = '$2b$10$abcdefghijklmnopqrstuuS0m3h4shV4lu3F0rT3st1ngOnly';

function clock(start = 0) {
  let now = start;
  return {
    now: () => now,
    set(value: number) {
      now = value;
    },
  };
}

describe('createCredentialCache', () => {
  test('a remembered credential is found; anything else is not', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    assert.equal(cache.has(1, 's3cret', HASH), false);
    cache.remember(1, 's3cret', HASH);
    assert.equal(cache.has(1, 's3cret', HASH), true);
    assert.equal(cache.has(1, 'S3cret', HASH), false, 'another secret');
    assert.equal(cache.has(2, 's3cret', HASH), false, 'another host');
    assert.equal(cache.has(1, 's3cret', HASH), true, 'misses did not evict the entry');
  });

  test('a changed stored hash (new password) invalidates the entry at once', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    cache.remember(1, 's3cret', HASH);
    assert.equal(cache.has(1, 's3cret', `${HASH}x`), false);
    assert.equal(cache.stats().size, 0, 'the stale entry is dropped');
    assert.equal(cache.has(1, 's3cret', HASH), false);
  });

  test('entries expire ttlMs after remember, and a hit does not extend them', () => {
    const time = clock(1000);
    const cache = createCredentialCache({ ttlMs: 500, now: time.now });
    cache.remember(7, 'pw', HASH);
    time.set(1499);
    assert.equal(cache.has(7, 'pw', HASH), true);
    time.set(1500);
    assert.equal(cache.has(7, 'pw', HASH), false);
    assert.equal(cache.stats().size, 0);
  });

  test('remembering again restarts the lifetime', () => {
    const time = clock(0);
    const cache = createCredentialCache({ ttlMs: 500, now: time.now });
    cache.remember(7, 'pw', HASH);
    time.set(400);
    cache.remember(7, 'pw', HASH);
    time.set(899);
    assert.equal(cache.has(7, 'pw', HASH), true);
    assert.equal(cache.stats().size, 1);
  });

  test('when full, the oldest entry goes first', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, maxEntries: 2, now: () => 0 });
    cache.remember(1, 'a', HASH);
    cache.remember(2, 'b', HASH);
    cache.remember(3, 'c', HASH);
    assert.equal(cache.stats().size, 2);
    assert.equal(cache.has(1, 'a', HASH), false);
    assert.equal(cache.has(2, 'b', HASH), true);
    assert.equal(cache.has(3, 'c', HASH), true);
  });

  test('remembering an entry again makes it the newest', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, maxEntries: 2, now: () => 0 });
    cache.remember(1, 'a', HASH);
    cache.remember(2, 'b', HASH);
    cache.remember(1, 'a', HASH);
    cache.remember(3, 'c', HASH);
    assert.equal(cache.has(1, 'a', HASH), true);
    assert.equal(cache.has(2, 'b', HASH), false);
    assert.equal(cache.has(3, 'c', HASH), true);
  });

  test('forget drops every entry of one host and no other', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    cache.remember(1, 'password', HASH);
    cache.remember(1, 'token', 'token-hash');
    cache.remember(2, 'password', HASH);
    cache.forget(1);
    assert.equal(cache.stats().size, 1);
    assert.equal(cache.has(1, 'password', HASH), false);
    assert.equal(cache.has(1, 'token', 'token-hash'), false);
    assert.equal(cache.has(2, 'password', HASH), true);
  });

  test('stats count hits and misses', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    cache.has(1, 'a', HASH);
    cache.remember(1, 'a', HASH);
    cache.has(1, 'a', HASH);
    cache.has(1, 'a', HASH);
    cache.has(1, 'b', HASH);
    assert.deepEqual(cache.stats(), { size: 1, hits: 2, misses: 2 });
  });

  test('two caches share nothing', () => {
    const first = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    const second = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    first.remember(1, 'a', HASH);
    assert.equal(second.has(1, 'a', HASH), false);
  });
});
