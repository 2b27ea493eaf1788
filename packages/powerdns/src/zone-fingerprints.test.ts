import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createZoneFingerprints, recordLine } from './zone-fingerprints.ts';

const a = (label: string, ip: string) => recordLine(`${label}.dyn.test.`, 'A', 60, ip);
const txt = (label: string, text: string) =>
  recordLine(`_acme-challenge.${label}.dyn.test.`, 'TXT', 60, text);

describe('createZoneFingerprints', () => {
  test('a host whose records are what Postgres wants is the same, in whatever order they came', () => {
    const held = createZoneFingerprints();
    held.add('alice', txt('alice', '"t"'), true);
    held.add('alice', a('alice', '198.51.100.1'), true);
    assert.equal(held.check('alice', [a('alice', '198.51.100.1'), txt('alice', '"t"')]), 'same');
    assert.equal(held.isSuspect('alice'), false);
    assert.equal(held.suspects, 0);
  });

  test('a record more, less or different, a TTL or a type: differs, and is suspect', () => {
    const cases: [string, string[]][] = [
      ['another address', [a('h', '198.51.100.2')]],
      ['a record more', [a('h', '198.51.100.1'), a('h', '198.51.100.2')]],
      ['nothing', []],
      ['another TTL', [recordLine('h.dyn.test.', 'A', 300, '198.51.100.1')]],
      ['another type', [recordLine('h.dyn.test.', 'AAAA', 60, '198.51.100.1')]],
      ['the same twice', [a('h', '198.51.100.1'), a('h', '198.51.100.1')]],
    ];
    for (const [what, wanted] of cases) {
      const held = createZoneFingerprints();
      held.add('h', a('h', '198.51.100.1'), true);
      assert.equal(held.check('h', wanted), 'differs', what);
      assert.equal(held.isSuspect('h'), true, what);
      assert.equal(held.suspects, 1, what);
    }
  });

  test('a label PowerDNS has nothing for is absent, and never suspect', () => {
    const held = createZoneFingerprints();
    held.add('alice', a('alice', '198.51.100.1'), true);
    assert.equal(held.check('bob', [a('bob', '198.51.100.2')]), 'absent');
    assert.equal(held.isSuspect('bob'), false);
  });

  test('labels Postgres did not claim are suspect, unless every record of theirs is an operator’s', () => {
    const held = createZoneFingerprints();
    held.add('alice', a('alice', '198.51.100.1'), true);
    held.add('gone', a('gone', '198.51.100.9'), true);
    held.add('www', a('www', '192.0.2.80'), false);
    held.add('mixed', a('mixed', '192.0.2.81'), false);
    held.add('mixed', txt('mixed', '"ours"'), true);
    held.check('alice', [a('alice', '198.51.100.1')]);
    assert.equal(held.markUnclaimed(), 2);
    assert.deepEqual(
      ['alice', 'gone', 'www', 'mixed'].map((label) => held.isSuspect(label)),
      [false, true, false, true],
    );
    assert.equal(held.suspects, 2);
    assert.equal(held.markUnclaimed(), 0, 'marked once');
  });

  test('it grows past its first size and keeps every label apart (100,000 labels from 2 slots)', () => {
    const held = createZoneFingerprints(2);
    for (let i = 0; i < 100_000; i++) held.add(`h${i}`, a(`h${i}`, `10.0.${i >> 8}.${i & 255}`), true);
    assert.equal(held.size, 100_000);
    let same = 0;
    for (let i = 0; i < 100_000; i++)
      if (held.check(`h${i}`, [a(`h${i}`, `10.0.${i >> 8}.${i & 255}`)]) === 'same') same++;
    assert.equal(same, 100_000);
    assert.equal(held.markUnclaimed(), 0);
  });
});
