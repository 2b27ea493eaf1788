import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCredentialCache } from './credential-cache.ts';

const HASH = '$2b$10$abcdefghijklmnopqrstuuS0m3h4shV4lu3F0rT3st1ngOnly';
const PASSWORD = { via: 'password' } as const;

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
    assert.equal(Boolean(cache.get(1, 's3cret', HASH)), false);
    cache.remember(1, 's3cret', HASH, PASSWORD);
    assert.equal(Boolean(cache.get(1, 's3cret', HASH)), true);
    assert.equal(Boolean(cache.get(1, 'S3cret', HASH)), false, 'another secret');
    assert.equal(Boolean(cache.get(2, 's3cret', HASH)), false, 'another host');
    assert.equal(Boolean(cache.get(1, 's3cret', HASH)), true, 'misses did not evict the entry');
  });

  test('a changed binding (new password, revoked token) invalidates the entry at once', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    cache.remember(1, 's3cret', `${HASH}\x001`, PASSWORD);
    assert.equal(Boolean(cache.get(1, 's3cret', `${HASH}\x002`)), false, 'a bumped credential version');
    assert.equal(Boolean(cache.get(1, 's3cret', `${HASH.slice(0, -1)}X\x001`)), false, 'a new hash');
    // A binding never comes back (a new hash has a new salt, versions only grow),
    // so the entry made under the old one is dead weight until it ages out.
    cache.remember(1, 's3cret', `${HASH}\x002`, PASSWORD);
    assert.equal(Boolean(cache.get(1, 's3cret', `${HASH}\x002`)), true);
  });

  test('the binding and the secret cannot be traded for each other', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    cache.remember(1, 'b\x00c', 'a', PASSWORD);
    assert.equal(Boolean(cache.get(1, 'c', 'a\x00b')), false);
    assert.equal(Boolean(cache.get(1, 'b\x00c', 'a')), true);
  });

  test('entries expire ttlMs after remember, and a hit does not extend them', () => {
    const time = clock(1000);
    const cache = createCredentialCache({ ttlMs: 500, now: time.now });
    cache.remember(7, 'pw', HASH, PASSWORD);
    time.set(1499);
    assert.equal(Boolean(cache.get(7, 'pw', HASH)), true);
    time.set(1500);
    assert.equal(Boolean(cache.get(7, 'pw', HASH)), false);
    assert.equal(cache.stats().size, 0);
  });

  test('remembering again restarts the lifetime', () => {
    const time = clock(0);
    const cache = createCredentialCache({ ttlMs: 500, now: time.now });
    cache.remember(7, 'pw', HASH, PASSWORD);
    time.set(400);
    cache.remember(7, 'pw', HASH, PASSWORD);
    time.set(899);
    assert.equal(Boolean(cache.get(7, 'pw', HASH)), true);
    assert.equal(cache.stats().size, 1);
  });

  test('when full, the oldest entry goes first', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, maxEntries: 2, now: () => 0 });
    cache.remember(1, 'a', HASH, PASSWORD);
    cache.remember(2, 'b', HASH, PASSWORD);
    cache.remember(3, 'c', HASH, PASSWORD);
    assert.equal(cache.stats().size, 2);
    assert.equal(Boolean(cache.get(1, 'a', HASH)), false);
    assert.equal(Boolean(cache.get(2, 'b', HASH)), true);
    assert.equal(Boolean(cache.get(3, 'c', HASH)), true);
  });

  test('remembering an entry again makes it the newest', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, maxEntries: 2, now: () => 0 });
    cache.remember(1, 'a', HASH, PASSWORD);
    cache.remember(2, 'b', HASH, PASSWORD);
    cache.remember(1, 'a', HASH, PASSWORD);
    cache.remember(3, 'c', HASH, PASSWORD);
    assert.equal(Boolean(cache.get(1, 'a', HASH)), true);
    assert.equal(Boolean(cache.get(2, 'b', HASH)), false);
    assert.equal(Boolean(cache.get(3, 'c', HASH)), true);
  });

  test('the kind of credential is remembered with it', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    cache.remember(1, 'password', HASH, PASSWORD);
    cache.remember(1, 'mydns_token', HASH, { via: 'token', tokenId: 9 });
    assert.deepEqual(cache.get(1, 'password', HASH), { via: 'password' });
    assert.deepEqual(cache.get(1, 'mydns_token', HASH), { via: 'token', tokenId: 9 });
  });

  test('stats count hits and misses', () => {
    const cache = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    Boolean(cache.get(1, 'a', HASH));
    cache.remember(1, 'a', HASH, PASSWORD);
    Boolean(cache.get(1, 'a', HASH));
    Boolean(cache.get(1, 'a', HASH));
    Boolean(cache.get(1, 'b', HASH));
    assert.deepEqual(cache.stats(), { size: 1, hits: 2, misses: 2 });
  });

  test('two caches share nothing', () => {
    const first = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    const second = createCredentialCache({ ttlMs: 60_000, now: () => 0 });
    first.remember(1, 'a', HASH, PASSWORD);
    assert.equal(Boolean(second.get(1, 'a', HASH)), false);
  });
});
