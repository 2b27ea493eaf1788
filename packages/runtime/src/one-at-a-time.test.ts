import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneAtATimePerKey } from './one-at-a-time.ts';

const released = () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { gate, release };
};

test('tasks of one key run one after another, in order; other keys do not wait; a failure does not stop the queue', async () => {
  const serial = oneAtATimePerKey<number>();
  const events: string[] = [];
  const first = released();
  const a1 = serial(1, async () => {
    events.push('a1 start');
    await first.gate;
    events.push('a1 end');
    throw new Error('a1 failed');
  });
  const a2 = serial(1, async () => {
    events.push('a2 start');
    return 'a2';
  });
  const b1 = serial(2, async () => {
    events.push('b1 start');
    return 'b1';
  });
  assert.equal(await b1, 'b1');
  assert.deepEqual(events, ['a1 start', 'b1 start']);
  first.release();
  await assert.rejects(a1, /a1 failed/);
  assert.equal(await a2, 'a2');
  assert.deepEqual(events, ['a1 start', 'b1 start', 'a1 end', 'a2 start']);
});
