import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { patchEntry } from './client.ts';
import { chunkEntries } from './zone-writer.ts';

/** What the writer PATCHes for one host: REPLACE of its A rrset. */
function entry(i: number) {
  return patchEntry({ name: `host${i}.mydns.test`, type: 'A', ttl: 60, records: [`198.51.100.${i % 256}`] });
}

/** The bytes of the PATCH body the client sends for one chunk. */
const bodySize = (chunk: readonly unknown[]) => Buffer.byteLength(JSON.stringify({ rrsets: chunk }));

describe('chunkEntries', () => {
  test('no entries: no chunks (never an empty PATCH)', () => {
    assert.deepEqual(chunkEntries([], 1000), []);
  });

  test('everything fits: one chunk with every entry, same order', () => {
    const entries = Array.from({ length: 10 }, (_, i) => entry(i));
    assert.deepEqual(chunkEntries(entries, 1024 * 1024), [entries]);
  });

  for (const maxBytes of [200, 256, 500, 1000, 4096]) {
    test(`bodies stay within ${maxBytes} bytes, keep order, and no chunk is empty`, () => {
      const entries = Array.from({ length: 100 }, (_, i) => entry(i));
      const chunks = chunkEntries(entries, maxBytes);
      assert.ok(chunks.length > 1, 'the entries were split');
      for (const [i, chunk] of chunks.entries()) {
        assert.ok(chunk.length > 0, `chunk ${i} is not empty`);
        assert.ok(bodySize(chunk) <= maxBytes, `chunk ${i}: ${bodySize(chunk)} > ${maxBytes} bytes`);
      }
      assert.deepEqual(chunks.flat(), entries, 'every entry once, in order');
    });
  }

  test('chunks are filled: each would overflow with the next chunk’s first entry', () => {
    const entries = Array.from({ length: 50 }, (_, i) => entry(i));
    const chunks = chunkEntries(entries, 1000);
    for (let i = 0; i + 1 < chunks.length; i++) {
      const current = chunks[i] ?? [];
      const next = chunks[i + 1]?.[0];
      assert.ok(bodySize([...current, next]) > 1000 - 16, `chunk ${i} could have taken one more entry`);
    }
  });

  test('an entry larger than maxBytes goes alone in its own chunk', () => {
    const small = entry(1);
    const huge = patchEntry({
      name: '_acme-challenge.host2.mydns.test',
      type: 'TXT',
      ttl: 60,
      records: Array.from({ length: 20 }, (_, i) => `"${'x'.repeat(40)}${i}"`),
    });
    const after = entry(3);
    const chunks = chunkEntries([small, huge, after], 300);
    assert.ok(bodySize([huge]) > 300, 'test setup: the entry is over the limit');
    assert.deepEqual(chunks, [[small], [huge], [after]]);
  });

  test('a single oversized entry still makes one chunk', () => {
    const chunks = chunkEntries([{ big: 'y'.repeat(500) }], 100);
    assert.deepEqual(chunks, [[{ big: 'y'.repeat(500) }]]);
  });

  test('a limit below the smallest entry gives one entry per chunk', () => {
    const entries = [entry(1), entry(2), entry(3)];
    assert.deepEqual(chunkEntries(entries, 10), [[entries[0]], [entries[1]], [entries[2]]]);
  });

  test('sizes are bytes, not characters: non-ASCII content stays under the limit', () => {
    const wide = Array.from({ length: 40 }, (_, i) =>
      patchEntry({ name: `t${i}.mydns.test`, type: 'TXT', ttl: 60, records: ['ü'.repeat(50)] }),
    );
    const maxBytes = 600;
    const chunks = chunkEntries(wide, maxBytes);
    assert.ok(chunks.length > 1);
    for (const chunk of chunks) assert.ok(bodySize(chunk) <= maxBytes, `${bodySize(chunk)} > ${maxBytes}`);
    assert.deepEqual(chunks.flat(), wide);
  });
});
