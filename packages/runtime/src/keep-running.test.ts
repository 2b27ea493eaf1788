import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type KeptRunning, keepRunning } from './keep-running.ts';
import { createLogger } from './logger.ts';
import { isProcessAlive, type Supervised, supervise } from './processes.ts';

/** A real child process (`sleep`), so exits, signals and PIDs are the real thing; backoff in milliseconds. */
const logger = createLogger({ level: 'error', format: 'pretty', silent: true });
const backoff = { initialMs: 20, maxMs: 80, resetAfterMs: 10_000 };

function sleeper(spawned: Supervised[]): () => Supervised {
  return () => {
    const child = supervise('sleep', ['60'], { name: 'sleeper', logger });
    spawned.push(child);
    return child;
  };
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('keepRunning', () => {
  test('a process that dies is started again, with backoff; stop() ends it for good', async () => {
    const spawned: Supervised[] = [];
    let restarts = 0;
    const kept: KeptRunning = await keepRunning({
      name: 'sleeper',
      logger,
      spawn: sleeper(spawned),
      ready: async () => undefined,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
      backoff,
      onRestart: () => restarts++,
    });
    try {
      assert.equal(kept.status(), 'up');
      const first = kept.pid;
      process.kill(first, 'SIGKILL');
      await waitFor('a restart', () => restarts === 1);
      assert.equal(kept.status(), 'up');
      assert.notEqual(kept.pid, first);
      assert.ok(isProcessAlive(kept.pid));
      assert.equal(spawned.length, 2);
      assert.equal(spawned[0]?.describeExit(), 'signal SIGKILL');
    } finally {
      await kept.stop();
    }
    assert.equal(kept.status(), 'stopped');
    assert.ok(
      spawned.every((child) => child.describeExit() !== undefined),
      'every child exited',
    );
    await sleep(backoff.maxMs * 2);
    assert.equal(spawned.length, 2, 'no restart after a stop');
  });

  test('while it is being restarted the status says so; a start that fails is tried again', async () => {
    const spawned: Supervised[] = [];
    let failStarts = 2;
    const kept = await keepRunning({
      name: 'sleeper',
      logger,
      spawn: sleeper(spawned),
      ready: async (child) => {
        if (spawned.length > 1 && failStarts-- > 0) {
          await child.stop('SIGKILL');
          throw new Error('not today');
        }
      },
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
      backoff,
    });
    try {
      process.kill(kept.pid, 'SIGKILL');
      await waitFor('the exit to be noticed', () => kept.status() === 'restarting');
      await waitFor('the third start to succeed', () => kept.status() === 'up');
      assert.equal(spawned.length, 4, 'the first, two failed starts, and the one that serves');
    } finally {
      await kept.stop();
    }
  });

  test('stop() during the backoff: no restart at all', async () => {
    const spawned: Supervised[] = [];
    const kept = await keepRunning({
      name: 'sleeper',
      logger,
      spawn: sleeper(spawned),
      ready: async () => undefined,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
      backoff: { initialMs: 60_000, maxMs: 60_000, resetAfterMs: 60_000 },
    });
    process.kill(kept.pid, 'SIGKILL');
    await waitFor('the exit to be noticed', () => kept.status() === 'restarting');
    await kept.stop();
    assert.equal(kept.status(), 'stopped');
    assert.equal(spawned.length, 1);
  });

  test('restart: false only reports the exit', async () => {
    const spawned: Supervised[] = [];
    const kept = await keepRunning({
      name: 'sleeper',
      logger,
      spawn: sleeper(spawned),
      ready: async () => undefined,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
      restart: false,
      backoff,
    });
    process.kill(kept.pid, 'SIGKILL');
    await waitFor('the exit to be noticed', () => kept.status() === 'exited');
    await sleep(backoff.maxMs * 2);
    assert.equal(spawned.length, 1);
    await kept.stop();
  });

  test('kill(): SIGKILL at once, synchronously, and no restart', async () => {
    const spawned: Supervised[] = [];
    const kept = await keepRunning({
      name: 'sleeper',
      logger,
      spawn: sleeper(spawned),
      ready: async () => undefined,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
      backoff,
    });
    kept.kill();
    assert.equal(await spawned[0]?.exited, null);
    assert.equal(spawned[0]?.describeExit(), 'signal SIGKILL');
    await sleep(backoff.maxMs * 2);
    assert.equal(spawned.length, 1);
    assert.equal(kept.status(), 'stopped');
  });

  test('a first start that fails throws and leaves nothing running', async () => {
    const spawned: Supervised[] = [];
    await assert.rejects(
      keepRunning({
        name: 'sleeper',
        logger,
        spawn: sleeper(spawned),
        ready: async () => {
          throw new Error('never ready');
        },
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 5000,
        backoff,
      }),
      /never ready/,
    );
    assert.equal(spawned.length, 1);
    assert.notEqual(spawned[0]?.describeExit(), undefined);
  });
});
