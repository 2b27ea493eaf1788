import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPowerDnsClient } from '@mydns/powerdns';
import { type ApiProcess, registerHosts, sendUpdate, startApiProcess } from '../support/faults.ts';
import {
  type ParsedReply,
  parseReply,
  rawExchange,
  WEBDAV_AND_OTHER_METHODS,
} from '../support/faults-http.ts';
import { harness } from '../support/harness.ts';
import { basic, createTestDatabase, uniqueZone } from '../support/mydns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * HTTP hardening, against an API process: the header, request
 * and keep-alive timeouts of apps/api/src/server.ts (headersTimeout 10 s,
 * requestTimeout 30 s, keepAliveTimeout 5 s), the body limits (JSON 16 kB,
 * the update form 8 kB, the web forms 16 kB), a slowloris-style crowd, no
 * `X-Powered-By`, and never an HTML page or a stack trace on the update and
 * API paths, whatever malformed bytes arrive. Raw sockets throughout: fetch
 * would refuse to send most of this.
 */

const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How late after a timeout the cut may come (scheduling, a busy machine). */
const SLACK_MS = 3_000;

const PASSWORD = 'hardening-password';
let database: { url: string; drop(): Promise<void> };
let zone: string;
let api: ApiProcess;

before(async () => {
  database = await createTestDatabase();
  zone = uniqueZone();
  api = await startApiProcess({
    name: 'hardening',
    databaseUrl: database.url,
    zone,
    powerdns: { apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey },
    env: { MYDNS_HOST_UPDATE_LIMIT: '100000/10m' },
  });
  await registerHosts(api.url, ['alice'], PASSWORD);
  assert.equal((await sendUpdate(api.url, 'alice', PASSWORD, '10.0.0.1')).body, 'good 10.0.0.1');
});

after(async () => {
  await api?.stop();
  await createPowerDnsClient({ apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey })
    .deleteZone(zone)
    .catch(() => undefined);
  await database?.drop();
});

const HOST = 'Host: 127.0.0.1\r\n';
const AUTH = () => `Authorization: ${basic('alice', PASSWORD)}\r\n`;
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
  );

function post(path: string, type: string, body: string, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\n${HOST}${extra}Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** A stack trace or an internal error text in a body. */
const STACK =
  /\bat [^\n]*\(?[^\s()]+:\d+:\d+\)?|node_modules|\bTypeError\b|\bSyntaxError\b|\bReferenceError\b/;

/** Everything that must hold for any reply on an update or API path; returns the problems. */
function problemsOf(reply: ParsedReply, options: { html: 'never' | 'allowed' }): string[] {
  const problems: string[] = [];
  if (reply.headers.has('x-powered-by')) problems.push(`X-Powered-By: ${reply.headers.get('x-powered-by')}`);
  const type = reply.headers.get('content-type') ?? '';
  const body = reply.body.toString('utf8');
  if (options.html === 'never' && (/html/i.test(type) || /<!doctype|<html/i.test(body))) {
    problems.push(`an HTML page (${type})`);
  }
  if (STACK.test(body)) problems.push(`a stack trace or internal error: ${body.slice(0, 200)}`);
  if (reply.status >= 500 && !(reply.status === 500 && body === '911') && reply.status !== 503) {
    problems.push(`HTTP ${reply.status}`);
  }
  return problems;
}

interface Case {
  readonly name: string;
  readonly request: string | Buffer;
  /** Acceptable statuses. */
  readonly status: readonly number[];
  /** The kind of body: the protocol's plain text, a JSON error, or none (Node's own 4xx). */
  readonly body: 'plain' | 'json' | 'none' | 'any';
  readonly head?: boolean;
}

const UPDATE_PATHS = ['/nic/update', '/v3/update', '/update', '/u.php'];

function malformedCases(): Case[] {
  const cases: Case[] = [
    {
      name: 'no credentials',
      request: `GET /nic/update HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
    {
      name: 'percent garbage in the query',
      request: `GET /nic/update?hostname=%ff%fe%&myip=%zz%&%=%% HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
    {
      name: 'percent-encoded invalid UTF-8 in credentials',
      request: `GET /u.php?hostname=alice&password=%c0%af%ed%a0%80 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
    {
      name: 'Basic credentials of invalid UTF-8',
      request: `GET /nic/update HTTP/1.1\r\n${HOST}Authorization: Basic ${Buffer.from([0xff, 0x3a, 0xc3, 0x28]).toString('base64')}\r\nConnection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
    {
      name: 'an Authorization that is not Basic',
      request: `GET /nic/update HTTP/1.1\r\n${HOST}Authorization: Bearer x.y.z\r\nConnection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
    {
      name: 'invalid UTF-8 bytes in the path',
      request: bytes('GET /nic/update', [0xff, 0xfe], ` HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`),
      status: [400],
      body: 'none',
    },
    {
      name: 'invalid UTF-8 bytes in the query',
      request: bytes(
        'GET /nic/update?hostname=',
        [0xc3, 0x28],
        ` HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      ),
      status: [400],
      body: 'none',
    },
    {
      name: 'invalid UTF-8 bytes in a header',
      request: bytes(
        `GET /nic/update HTTP/1.1\r\n${HOST}User-Agent: `,
        [0xff, 0xc3, 0x28],
        '\r\nConnection: close\r\n\r\n',
      ),
      status: [400, 401],
      body: 'any',
    },
    {
      name: 'a NUL in a header',
      request: `GET /nic/update HTTP/1.1\r\n${HOST}X-Odd: a\u0000b\r\nConnection: close\r\n\r\n`,
      status: [400],
      body: 'none',
    },
    {
      name: 'a 20 kB header',
      request: `GET /nic/update HTTP/1.1\r\n${HOST}X-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      status: [431],
      body: 'none',
    },
    {
      name: 'a 20 kB URL',
      request: `GET /nic/update?hostname=${'a'.repeat(20_000)} HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [431, 414],
      body: 'none',
    },
    {
      name: 'a huge Basic credential (12 kB)',
      request: `GET /nic/update HTTP/1.1\r\n${HOST}Authorization: Basic ${Buffer.from(`alice:${'p'.repeat(9000)}`).toString('base64')}\r\nConnection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
    {
      name: 'Content-Length and Transfer-Encoding together (smuggling)',
      request: `POST /nic/update HTTP/1.1\r\n${HOST}Content-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
      status: [400],
      body: 'none',
    },
    {
      name: 'a broken chunk',
      request: `POST /nic/update HTTP/1.1\r\n${HOST}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
      status: [400],
      body: 'none',
    },
    {
      name: 'an HTTP/2 preface',
      request: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      status: [400],
      body: 'none',
    },
    {
      name: 'malformed JSON',
      request: post('/api/v1/hosts', 'application/json', '{"hostname":'),
      status: [400],
      body: 'json',
    },
    {
      name: 'malformed JSON from a browser (Accept: text/html)',
      request: post('/api/v1/hosts', 'application/json', '{"hostname":', 'Accept: text/html\r\n'),
      status: [400],
      body: 'json',
    },
    {
      name: 'JSON nested 10,000 deep',
      request: post('/api/v1/hosts', 'application/json', '['.repeat(10_000)),
      status: [400],
      body: 'json',
    },
    {
      name: 'JSON under a text/plain content type',
      request: post('/api/v1/hosts', 'text/plain', '{"hostname":"x","password":"y"}'),
      status: [400],
      body: 'json',
    },
    {
      name: 'JSON in an unknown charset',
      request: post('/api/v1/hosts', 'application/json; charset=bogus', '{}'),
      status: [415],
      body: 'json',
    },
    {
      name: 'a JSON body with __proto__',
      request: `PATCH /api/v1/hosts/alice HTTP/1.1\r\n${HOST}${AUTH()}Content-Type: application/json\r\nContent-Length: 28\r\nConnection: close\r\n\r\n{"__proto__":{"admin":true}}`,
      status: [400],
      body: 'json',
    },
    {
      name: 'bad percent-encoding in an API path',
      request: `GET /api/v1/hosts/%E0%A4%A HTTP/1.1\r\n${HOST}Accept: text/html\r\nConnection: close\r\n\r\n`,
      status: [400],
      body: 'json',
    },
    {
      name: 'percent-encoded invalid UTF-8 in an API path',
      request: `DELETE /api/v1/hosts/alice/acme-challenge/%c0%af HTTP/1.1\r\n${HOST}${AUTH()}Connection: close\r\n\r\n`,
      status: [400],
      body: 'json',
    },
    {
      // Express routes case-insensitively: /API/V1/HOSTS/… is the JSON API too.
      name: 'an upper-case API path from a browser',
      request: `GET /API/V1/HOSTS/alice HTTP/1.1\r\n${HOST}Accept: text/html\r\nConnection: close\r\n\r\n`,
      status: [401],
      body: 'json',
    },
    {
      name: 'an unknown API path from a browser',
      request: `GET /api/v1/nope HTTP/1.1\r\n${HOST}Accept: text/html\r\nConnection: close\r\n\r\n`,
      status: [404],
      body: 'json',
    },
  ];
  // The update form's body parser refusing a body must not turn into an HTML page or a 500
  // (a browser's Accept: text/html included): too large, an unknown charset, a broken or unknown encoding.
  for (const path of UPDATE_PATHS) {
    for (const accept of ['', 'Accept: text/html\r\n']) {
      const form = 'application/x-www-form-urlencoded';
      const who = `${path}${accept ? ' (Accept: text/html)' : ''}`;
      cases.push(
        {
          name: `a 9 kB form to ${who}`,
          request: post(path, form, `hostname=${'a'.repeat(9000)}`, accept),
          status: [413],
          body: 'any',
        },
        {
          name: `a form in an unknown charset to ${who}`,
          request: post(path, `${form}; charset=bogus`, 'hostname=alice', accept),
          status: [415],
          body: 'any',
        },
        {
          name: `a form with a broken gzip encoding to ${who}`,
          request: post(path, form, 'hostname=alice', `${accept}Content-Encoding: gzip\r\n`),
          status: [400],
          body: 'any',
        },
        {
          name: `a form with an unknown encoding to ${who}`,
          request: post(path, form, 'hostname=alice', `${accept}Content-Encoding: zz\r\n`),
          status: [415],
          body: 'any',
        },
      );
    }
  }
  return cases;
}

async function check(cases: readonly Case[]): Promise<string[]> {
  const failures: string[] = [];
  for (const c of cases) {
    const outcome = await rawExchange(api.port, c.request, { timeoutMs: 10_000, noBody: c.head ?? false });
    const reply = outcome.reply;
    if (!reply) {
      failures.push(
        `${c.name}: no whole reply (${outcome.error ?? 'closed'}): ${outcome.bytes.toString('latin1').slice(0, 120)}`,
      );
      continue;
    }
    const problems = problemsOf(reply, { html: 'never' });
    if (!c.status.includes(reply.status))
      problems.push(`HTTP ${reply.status}, expected ${c.status.join(' or ')}`);
    const type = reply.headers.get('content-type') ?? '';
    if (c.body === 'plain' && !type.startsWith('text/plain'))
      problems.push(`Content-Type ${type}, expected text/plain`);
    if (c.body === 'json') {
      try {
        const parsed = JSON.parse(reply.body.toString('utf8')) as { error?: { code?: unknown } };
        if (typeof parsed.error?.code !== 'string') problems.push('a JSON body without error.code');
      } catch {
        problems.push(`not JSON: ${reply.body.toString('utf8').slice(0, 100)}`);
      }
      if (!type.startsWith('application/json')) problems.push(`Content-Type ${type}, expected JSON`);
    }
    if (c.body === 'none' && reply.body.length > 0)
      problems.push(`a body: ${reply.body.toString('latin1').slice(0, 100)}`);
    if (problems.length > 0) failures.push(`${c.name}: ${problems.join('; ')}`);
  }
  return failures;
}

test('malformed requests get a clean 4xx: no HTML, no stack trace, no X-Powered-By', async () => {
  const failures = await check(malformedCases());
  assert.deepEqual(failures, [], `replies that are not clean:\n${failures.join('\n')}`);
  assert.ok(api.isAlive());
});

test('a path that starts with // is the same path with one: served by the app, never Express’s own HTML 404', async () => {
  // Express parses `//…` as a URL with a host; with some query strings (an `@` after a quote, a
  // `#`) it finds no path at all and sends its own HTML "Cannot POST null" before any handler of
  // ours (found by `npm run bench -- fuzz`).
  const odd = "a='x'@t.&#f";
  const failures = await check([
    {
      name: 'GET //nic/update',
      request: `GET //nic/update?hostname=alice&myip=10.0.0.1 HTTP/1.1\r\n${HOST}${AUTH()}Connection: close\r\n\r\n`,
      status: [200],
      body: 'plain',
    },
    {
      name: `POST //u.php?${odd}`,
      request: post(
        `//u.php?${odd}`,
        'application/x-www-form-urlencoded',
        `hostname=alice&password=${PASSWORD}&myip=10.0.0.1`,
      ),
      status: [200],
      body: 'plain',
    },
    {
      name: `GET //update?${odd}, no credentials`,
      request: `GET //update?${odd} HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [401],
      body: 'plain',
    },
  ]);
  assert.deepEqual(failures, [], `replies that are not clean:\n${failures.join('\n')}`);
});

test('odd methods get a clean answer', async () => {
  const cases: Case[] = [];
  for (const method of WEBDAV_AND_OTHER_METHODS) {
    for (const path of [...UPDATE_PATHS, '/nic/update/']) {
      cases.push({
        name: `${method} ${path}`,
        request: `${method} ${path} HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
        status: [405],
        body: 'plain',
      });
    }
    cases.push({
      name: `${method} /api/v1/hosts/alice/history`,
      request: `${method} /api/v1/hosts/alice/history HTTP/1.1\r\n${HOST}Accept: text/html\r\nConnection: close\r\n\r\n`,
      status: method === 'OPTIONS' ? [200, 204] : [401, 404, 405],
      body: method === 'OPTIONS' ? 'any' : 'json',
    });
  }
  cases.push(
    {
      name: 'HEAD /nic/update',
      request: `HEAD /nic/update HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [401],
      body: 'any',
      head: true,
    },
    {
      name: 'an unknown method',
      request: `FOO /nic/update HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [400, 405, 501],
      body: 'any',
    },
    {
      name: 'a lower-case method',
      request: `get /nic/update HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      status: [400, 405, 501],
      body: 'any',
    },
  );
  const failures = await check(cases);
  // CONNECT: this is no proxy. Node drops the connection (no 'connect' listener); an answer would do as well.
  const connectOutcome = await rawExchange(api.port, `CONNECT 127.0.0.1:25 HTTP/1.1\r\n${HOST}\r\n`, {
    timeoutMs: 5000,
  });
  if (!connectOutcome.closed) failures.push('CONNECT: the connection stays open');
  else if (connectOutcome.bytes.length > 0 && (!connectOutcome.reply || connectOutcome.reply.status < 400)) {
    failures.push(`CONNECT: ${connectOutcome.bytes.toString('latin1').slice(0, 100)}`);
  }
  assert.deepEqual(failures, [], `replies that are not clean:\n${failures.join('\n')}`);
});

test('body size limits: JSON 16 kB, the update form 8 kB, the web forms 16 kB', async () => {
  const json = (size: number) => {
    // {"hostname":"x","password":"short","pad":"…"}: invalid (short password), so nothing is registered.
    const head = '{"hostname":"limits","password":"short","pad":"';
    return `${head}${'x'.repeat(size - head.length - 2)}"}`;
  };
  const form = (size: number) => `hostname=alice&pad=${'x'.repeat(size - 19)}`;
  const status = async (request: string) => {
    const outcome = await rawExchange(api.port, request, { timeoutMs: 10_000 });
    const problems = outcome.reply ? problemsOf(outcome.reply, { html: 'allowed' }) : ['no whole reply'];
    return { status: outcome.reply?.status, problems, type: outcome.reply?.headers.get('content-type') };
  };
  const chunked = (path: string, type: string, size: number) =>
    `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: ${type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size.toString(16)}\r\n${'x'.repeat(size)}\r\n0\r\n\r\n`;

  const results = {
    jsonAtLimit: (await status(post('/api/v1/hosts', 'application/json', json(16_384)))).status,
    jsonOver: await status(post('/api/v1/hosts', 'application/json', json(16_385))),
    jsonOverChunked: (await status(chunked('/api/v1/hosts', 'application/json', 16_385))).status,
    formAtLimit: (await status(post('/nic/update', 'application/x-www-form-urlencoded', form(8192)))).status,
    formOver: await status(post('/nic/update', 'application/x-www-form-urlencoded', form(8193))),
    formOverChunked: (await status(chunked('/u.php', 'application/x-www-form-urlencoded', 8193))).status,
    webFormAtLimit: (await status(post('/login', 'application/x-www-form-urlencoded', form(16_384)))).status,
    webFormOver: (
      await status(post('/login', 'application/x-www-form-urlencoded', form(16_385), 'Accept: text/html\r\n'))
    ).status,
  };
  assert.deepEqual(results, {
    jsonAtLimit: 400, // read and refused for what it says, not for its size
    jsonOver: { status: 413, problems: [], type: 'application/json; charset=utf-8' },
    jsonOverChunked: 413,
    formAtLimit: 401, // read: no credentials in it
    formOver: { status: 413, problems: [], type: 'application/json; charset=utf-8' },
    formOverChunked: 413,
    webFormAtLimit: results.webFormAtLimit,
    webFormOver: 413,
  });
  assert.ok(
    results.webFormAtLimit !== 413 && results.webFormAtLimit !== undefined,
    'a 16 kB web form is read',
  );
});

test('keep-alive: an idle connection is closed after keepAliveTimeout (5 s)', async () => {
  const socket = connect(api.port, '127.0.0.1');
  socket.on('error', () => undefined);
  let buffer = Buffer.alloc(0);
  let repliedAt = 0;
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!repliedAt && parseReply(buffer)?.complete) repliedAt = Date.now();
  });
  socket.write(`GET /healthz HTTP/1.1\r\n${HOST}\r\n`);
  const closedAt = await Promise.race([closed, sleep(KEEP_ALIVE_TIMEOUT_MS + 10_000).then(() => 0)]);
  socket.destroy();
  assert.ok(repliedAt > 0, 'the request was answered');
  assert.ok(closedAt > 0, 'the idle connection was closed');
  const idleMs = closedAt - repliedAt;
  assert.ok(
    idleMs >= KEEP_ALIVE_TIMEOUT_MS - 500 && idleMs <= KEEP_ALIVE_TIMEOUT_MS + SLACK_MS,
    `closed after ${idleMs} ms idle`,
  );
});

interface SlowSocket {
  readonly kind: 'headers' | 'silent' | 'body';
  readonly openedAt: number;
  closedAt: number | undefined;
  received: Buffer;
  socket: Socket;
  timer: NodeJS.Timeout | undefined;
}

/** A socket that sends `text` one byte every `everyMs` (and nothing when `text` is empty). */
function slowSocket(kind: SlowSocket['kind'], prefix: string, text: string, everyMs: number): SlowSocket {
  const socket = connect(api.port, '127.0.0.1');
  const slow: SlowSocket = {
    kind,
    openedAt: Date.now(),
    closedAt: undefined,
    received: Buffer.alloc(0),
    socket,
    timer: undefined,
  };
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    slow.received = Buffer.concat([slow.received, chunk]);
  });
  socket.on('close', () => {
    slow.closedAt = Date.now();
    clearInterval(slow.timer);
  });
  if (prefix) socket.write(prefix);
  if (text) {
    let at = 0;
    slow.timer = setInterval(() => {
      if (at < text.length && !socket.destroyed) socket.write(text[at++] ?? '');
    }, everyMs);
  }
  return slow;
}

test('a slowloris crowd does not stop a normal client, and the timeouts cut it off', async () => {
  const crowd: SlowSocket[] = [
    // Headers byte by byte, never finished: the header timeout (10 s) must cut them.
    ...Array.from({ length: 50 }, () =>
      slowSocket('headers', '', `GET /nic/update HTTP/1.1\r\n${HOST}X-Slow: ${'a'.repeat(2000)}`, 200),
    ),
    // Connected, silent.
    ...Array.from({ length: 5 }, () => slowSocket('silent', '', '', 0)),
    // Headers complete, the body byte by byte: the request timeout (30 s) must cut them.
    ...Array.from({ length: 5 }, () =>
      slowSocket(
        'body',
        `POST /nic/update HTTP/1.1\r\n${HOST}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n`,
        'x'.repeat(5000),
        500,
      ),
    ),
  ];
  try {
    // Meanwhile a normal client is served, promptly, every time.
    const slowServed: string[] = [];
    for (let round = 0; round < 12; round++) {
      const started = Date.now();
      const checkip = await rawExchange(
        api.port,
        `GET /checkip HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
        {
          timeoutMs: 5000,
        },
      );
      const update = await sendUpdate(api.url, 'alice', PASSWORD, '10.0.0.1', 5000);
      const ms = Date.now() - started;
      if (
        checkip.reply?.body.toString() !== 'Current IP Address: 127.0.0.1' ||
        update.body !== 'nochg 10.0.0.1' ||
        ms > 2000
      ) {
        slowServed.push(
          `round ${round}: ${checkip.reply?.status} ${update.status} ${update.body} in ${ms} ms`,
        );
      }
      // Pacing: the rounds spread over the crowd's whole lifetime (the header timeout is 10 s).
      await sleep(500);
    }
    assert.deepEqual(
      slowServed,
      [],
      'the normal client is served within 2 s while the crowd holds its sockets',
    );

    // Every slow socket is cut off: the header timeout for the first two kinds, the request timeout for the last.
    const limit = (kind: SlowSocket['kind']) =>
      (kind === 'body' ? REQUEST_TIMEOUT_MS : HEADERS_TIMEOUT_MS) + SLACK_MS;
    // A socket still open at the end is reported below, with the others: no failure here.
    await waitFor(() => crowd.every((s) => s.closedAt !== undefined), {
      message: 'every slow socket to be cut off',
      timeoutMs: REQUEST_TIMEOUT_MS + SLACK_MS + 2000,
      intervalMs: 200,
    }).catch(() => undefined);
    const report = (kind: SlowSocket['kind']) => {
      const sockets = crowd.filter((s) => s.kind === kind);
      const lived = sockets.map((s) => (s.closedAt ?? Number.POSITIVE_INFINITY) - s.openedAt);
      return {
        kind,
        cutInTime: lived.filter((ms) => ms <= limit(kind)).length,
        answeredCleanly: sockets.filter(
          (s) => s.received.length === 0 || /^HTTP\/1\.1 (408|400|413) /.test(s.received.toString('latin1')),
        ).length,
        longestMs: Number.isFinite(Math.max(...lived)) ? Math.max(...lived) : 'still open',
      };
    };
    const reports = (['headers', 'silent', 'body'] as const).map(report);
    assert.deepEqual(
      reports.map(({ kind, cutInTime, answeredCleanly }) => ({ kind, cutInTime, answeredCleanly })),
      [
        { kind: 'headers', cutInTime: 50, answeredCleanly: 50 },
        { kind: 'silent', cutInTime: 5, answeredCleanly: 5 },
        { kind: 'body', cutInTime: 5, answeredCleanly: 5 },
      ],
      `slow sockets must be cut within their timeout + ${SLACK_MS} ms (header ${HEADERS_TIMEOUT_MS} ms, request ${REQUEST_TIMEOUT_MS} ms): ${JSON.stringify(reports)}`,
    );
  } finally {
    for (const s of crowd) {
      clearInterval(s.timer);
      s.socket.destroy();
    }
  }
  assert.equal((await sendUpdate(api.url, 'alice', PASSWORD, '10.0.0.2')).body, 'good 10.0.0.2');
});
