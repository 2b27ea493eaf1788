import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFakeClock } from '../../../test/support/fake-clock.ts';
import { createNotifyCoalescer } from './notify-coalescer.ts';

/** A coalescer on a fake clock, and when each NOTIFY went out. */
function setup(intervalMs: number, send: () => Promise<void> = async () => undefined) {
  const clock = createFakeClock(1_000_000);
  const sent: number[] = [];
  const errors: unknown[] = [];
  const coalescer = createNotifyCoalescer({
    intervalMs,
    clock,
    send: async () => {
      sent.push(clock.now() - 1_000_000);
      await send();
    },
    onError: (error) => errors.push(error),
  });
  return { clock, sent, errors, coalescer };
}

describe('createNotifyCoalescer', () => {
  test('the first change at once; the changes within the interval together at its end; after a quiet interval at once again', async () => {
    const { clock, sent, coalescer } = setup(5000);
    coalescer.changed();
    await clock.settle();
    assert.deepEqual(sent, [0], 'the first change is announced at once');
    for (let i = 0; i < 20; i++) {
      await clock.advance(200);
      coalescer.changed();
    }
    await clock.settle();
    assert.deepEqual(sent, [0], 'nothing more within the interval');
    await clock.advance(5000 - 4000);
    assert.deepEqual(sent, [0, 5000], 'the 20 changes in one NOTIFY, when the interval ends');
    await clock.advance(60_000);
    assert.deepEqual(sent, [0, 5000], 'no NOTIFY without a change');
    coalescer.changed();
    await clock.settle();
    assert.deepEqual(sent, [0, 5000, 65_000], 'a change after a quiet interval is announced at once');
    await coalescer.stop();
  });

  test('changes without a pause: one NOTIFY per interval, the last change announced within one interval', async () => {
    const { clock, sent, coalescer } = setup(1000);
    for (let t = 0; t < 10_000; t += 50) {
      coalescer.changed();
      await clock.advance(50);
    }
    await clock.advance(1000);
    assert.deepEqual(sent, [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    await coalescer.stop();
  });

  test('interval 0: a NOTIFY after every change, one at a time', async () => {
    let release: () => void = () => undefined;
    const { clock, sent, coalescer } = setup(
      0,
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    coalescer.changed();
    await clock.settle();
    coalescer.changed();
    coalescer.changed();
    await clock.settle();
    assert.equal(sent.length, 1, 'one NOTIFY in flight at a time');
    release();
    await clock.advance(0);
    assert.equal(sent.length, 2, 'the changes during it in the next one');
    release();
    await clock.advance(0);
    assert.equal(sent.length, 2);
    await coalescer.stop();
  });

  test('stop sends what is due at once; a change after stop sends nothing', async () => {
    const { clock, sent, coalescer } = setup(60_000);
    coalescer.changed();
    await clock.advance(1000);
    coalescer.changed();
    await clock.settle();
    assert.deepEqual(sent, [0]);
    await coalescer.stop();
    assert.deepEqual(sent, [0, 1000], 'the last change is not left unannounced');
    coalescer.changed();
    await clock.advance(120_000);
    assert.deepEqual(sent, [0, 1000]);
  });

  test('a NOTIFY that fails is reported, and the next change is announced as usual', async () => {
    let fail = true;
    const { clock, sent, errors, coalescer } = setup(1000, async () => {
      if (fail) throw new Error('PowerDNS is down');
    });
    coalescer.changed();
    await clock.settle();
    assert.equal(errors.length, 1);
    fail = false;
    coalescer.changed();
    await clock.advance(1000);
    assert.deepEqual(sent, [0, 1000]);
    assert.equal(errors.length, 1);
    await coalescer.stop();
  });
});
