import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDelegationRecords } from './dnssec-commands.ts';

const csk = {
  id: 1,
  keytype: 'csk',
  active: true,
  dnskey: '257 3 13 tmwbSKqIhKCOSWt4RgJUBWW0r5wkIcRPDztqNpe2EI/+YBXyNkWf66wBMF9KFc5Gg5ZwVTbzNW+3GCyIKEW3nA==',
  ds: [
    '47936 13 1 19e60541802285d69e1e56698badc7921a642c4c',
    '47936 13 2 7cfa982f6b0772b20fdae37929ff518c61d160a854818e8459965b797699d825',
    '47936 13 4 368bf970d23b55e74156487ee179e20496670eb90e6bd2a890286fb0453b89307349c3b73b3e0084b219220737f7ebf0',
  ],
};

test('the DS lines of the active key-signing keys (SHA-256 and SHA-384, never SHA-1), then the DNSKEY', () => {
  const zsk = { ...csk, id: 2, keytype: 'zsk', dnskey: '256 3 13 AAAA', ds: [] };
  const inactive = { ...csk, id: 3, active: false, ds: ['1 13 2 ff'] };
  assert.deepEqual(formatDelegationRecords('Dyn.Example.NET', [csk, zsk, inactive]), [
    'dyn.example.net. IN DS 47936 13 2 7cfa982f6b0772b20fdae37929ff518c61d160a854818e8459965b797699d825',
    'dyn.example.net. IN DS 47936 13 4 368bf970d23b55e74156487ee179e20496670eb90e6bd2a890286fb0453b89307349c3b73b3e0084b219220737f7ebf0',
    `dyn.example.net. IN DNSKEY ${csk.dnskey}`,
  ]);
});

test('an unsigned zone has nothing to hand to the parent', () => {
  assert.deepEqual(formatDelegationRecords('dyn.example.net', []), []);
});
