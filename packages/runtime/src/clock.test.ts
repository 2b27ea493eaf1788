import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemClock } from './clock.ts';

describe('systemClock.sleep', () => {
  test('resolves once the time has passed', async () => {
    let done = false;
    const sleeping = systemClock.sleep(5).then(() => {
      done = true;
    });
    assert.equal(done, false);
    await sleeping;
    assert.equal(done, true);
  });

  // A minute-long wait that ends when its signal aborts: the test would time out otherwise.
  test('resolves as soon as its signal aborts, without rejecting, whatever the reason', {
    timeout: 10_000,
  }, async () => {
    for (const reason of [undefined, 'pushed', new Error('stop')]) {
      const controller = new AbortController();
      const sleeping = systemClock.sleep(60_000, { signal: controller.signal });
      controller.abort(reason);
      assert.equal(await sleeping, undefined);
    }
  });

  test('an already aborted signal resolves at once', { timeout: 10_000 }, async () => {
    const controller = new AbortController();
    controller.abort();
    assert.equal(await systemClock.sleep(60_000, { signal: controller.signal }), undefined);
  });
});

describe('systemClock.after', () => {
  test('fires once its time has passed', async () => {
    const fired = await new Promise<number>((resolve) => {
      const started = Date.now();
      systemClock.after(5, () => resolve(Date.now() - started));
    });
    assert.ok(fired >= 4, `fired after ${fired} ms`);
  });

  test('never fires once cancelled', async () => {
    let fired = false;
    const cancel = systemClock.after(5, () => {
      fired = true;
    });
    cancel();
    await systemClock.sleep(30);
    assert.equal(fired, false);
  });
});
