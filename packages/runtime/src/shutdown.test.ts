import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from './logger.ts';
import { createShutdown, createSignalHandler, REPEAT_WINDOW_MS } from './shutdown.ts';

const logger = createLogger({ level: 'error', format: 'pretty', silent: true });

/** A shutdown whose steps wait until released, a clock the test moves, and a record of exits and kills. */
function setup() {
  const events: string[] = [];
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const shutdown = createShutdown(logger);
  shutdown.add(
    'postgres',
    async () => {
      await released;
      events.push('stopped postgres');
    },
    () => events.push('killed postgres'),
  );
  shutdown.add(
    'powerdns',
    () => {
      events.push('stopped powerdns');
    },
    () => events.push('killed powerdns'),
  );
  let clock = 1_000_000;
  const onSignal = createSignalHandler(shutdown, logger, {
    exit: (code) => events.push(`exit ${code}`),
    now: () => clock,
  });
  return {
    events,
    onSignal,
    release,
    advance: (ms: number) => {
      clock += ms;
    },
    settle: () => new Promise((resolve) => setImmediate(resolve)),
  };
}

describe('signal handling', () => {
  test('Ctrl-C as a terminal and npm deliver it (three times at once) is one stop, clean', async () => {
    const { events, onSignal, release, advance, settle } = setup();
    onSignal('SIGINT');
    advance(2);
    onSignal('SIGINT');
    advance(40);
    onSignal('SIGINT');
    await settle();
    assert.deepEqual(events, ['stopped powerdns'], 'stopping, in reverse order, nothing killed');
    release();
    await settle();
    await settle();
    assert.deepEqual(events, ['stopped powerdns', 'stopped postgres', 'exit 0']);
  });

  test('SIGTERM then SIGINT within the window: still the same request', async () => {
    const { events, onSignal, release, advance, settle } = setup();
    onSignal('SIGTERM');
    advance(REPEAT_WINDOW_MS - 1);
    onSignal('SIGINT');
    release();
    await settle();
    await settle();
    assert.deepEqual(events, ['stopped powerdns', 'stopped postgres', 'exit 0']);
  });

  test('a Ctrl-C after the window forces the exit: every child is killed first', async () => {
    const { events, onSignal, advance, settle } = setup();
    onSignal('SIGINT');
    onSignal('SIGINT');
    await settle();
    advance(REPEAT_WINDOW_MS);
    onSignal('SIGINT');
    assert.deepEqual(events, ['stopped powerdns', 'killed powerdns', 'killed postgres', 'exit 130']);
  });

  test('kill() goes on past a kill that throws', () => {
    const shutdown = createShutdown(logger);
    const killed: string[] = [];
    shutdown.add(
      'a',
      () => undefined,
      () => killed.push('a'),
    );
    shutdown.add(
      'b',
      () => undefined,
      () => {
        throw new Error('no such process');
      },
    );
    shutdown.add('c', () => undefined);
    shutdown.kill();
    assert.deepEqual(killed, ['a']);
  });
});
