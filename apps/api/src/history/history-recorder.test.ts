import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEntry, HistoryRepository } from '@mydns/db';
import { createLogger } from '@mydns/runtime';
import { createHistoryRecorder } from './history-recorder.ts';

const entry = (hostId: number, newIpv4: string): HistoryEntry => ({
  hostId,
  at: new Date(),
  sourceAddress: '198.51.100.1',
  userAgent: null,
  result: 'good',
  oldIpv4: null,
  oldIpv6: null,
  newIpv4,
  newIpv6: null,
});

test('flush writes what was recorded before it, even while an earlier write is still running', async () => {
  const written: string[] = [];
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const repository = {
    async insertMany(entries: readonly HistoryEntry[]) {
      // The first write hangs until the test lets it go (the interval's flush, mid-way).
      if (written.length === 0) await released;
      written.push(...entries.map((e) => e.newIpv4 ?? ''));
    },
  } as unknown as HistoryRepository;
  const recorder = createHistoryRecorder({
    repository,
    logger: createLogger({ level: 'error', format: 'pretty', silent: true }),
  });
  recorder.record(entry(1, '198.51.100.1'));
  const interval = recorder.flush();
  recorder.record(entry(1, '198.51.100.2'));
  const asked = recorder.flush();
  release();
  await Promise.all([interval, asked]);
  assert.deepEqual(written, ['198.51.100.1', '198.51.100.2']);
});
