import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import winston from 'winston';
import { faultFields } from './errors.ts';
import { repeatLimited } from './logger.ts';

/** A winston logger whose lines the test reads back. */
function recordingLogger() {
  const lines: { level: string; message: string; repeatsHeldBack?: number }[] = [];
  const stream = new Writable({
    objectMode: true,
    write(info, _encoding, done) {
      lines.push(info);
      done();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

describe('repeatLimited: an outage logs a line per window, not per attempt', () => {
  test('the first line of a message, once per window; the next says how many were held back', () => {
    const { logger, lines } = recordingLogger();
    let now = 0;
    const log = repeatLimited(logger, 10_000, () => now);
    const message =
      'Acquire connection error: error: the database system is not yet accepting connections\n    at parse';
    for (let i = 0; i < 50; i += 1) log('warn', message);
    log('error', 'something else');
    now = 10_000;
    log('warn', message);
    assert.deepEqual(
      lines.map((line) => [line.level, line.message, line.repeatsHeldBack]),
      [
        [
          'warn',
          'Acquire connection error: error: the database system is not yet accepting connections',
          undefined,
        ],
        ['error', 'something else', undefined],
        ['warn', 'Acquire connection error: error: the database system is not yet accepting connections', 49],
      ],
    );
  });
});

describe('faultFields', () => {
  test('a bug keeps its stack; an outage (system error, SQLSTATE, pool timeout) does not', () => {
    assert.ok(faultFields(new TypeError('x is undefined')).stack);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    assert.deepEqual(faultFields(refused), { error: refused.message });
    const starting = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    assert.deepEqual(faultFields(starting), { error: starting.message });
    const timeout = new Error('Knex: Timeout acquiring a connection');
    timeout.name = 'KnexTimeoutError';
    assert.deepEqual(faultFields(timeout), { error: timeout.message });
    const argument = Object.assign(new TypeError('bad argument'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.ok(faultFields(argument).stack, 'a Node.js usage error is a bug');
  });
});
