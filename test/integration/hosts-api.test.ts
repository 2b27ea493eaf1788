import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/** Registration and the host view: clear 400/409/403/429 JSON errors, never a stack trace. */

interface Reply {
  hostname?: string;
  ipv4?: string | null;
  status?: string;
  error?: { code: string; message: string };
}

async function register(mydns: TestMyDns, body: unknown, raw?: string) {
  const reply = await mydns.request('/api/v1/hosts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: reply.status, json: JSON.parse(reply.body) as Reply, headers: reply.headers };
}

describe('POST /api/v1/hosts', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns({ env: { MYDNS_REGISTRATION_LIMIT: '30/1h' } });
  });
  after(async () => {
    await mydns?.stop();
  });

  test('registers a host: 201, full name, no secret in the answer, stored as bcrypt', async () => {
    const reply = await register(mydns, {
      hostname: 'Alice',
      password: 'a-long-password',
      email: 'a@example.org',
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.json.hostname, `alice.${mydns.zone}`);
    assert.equal(reply.json.ipv4, null);
    assert.equal(reply.json.status, 'active');
    assert.equal(reply.headers.get('location'), '/api/v1/hosts/alice');
    assert.ok(!JSON.stringify(reply.json).includes('a-long-password'));
    const hash = await mydns.db('hosts').where({ name: 'alice' }).first('password_hash');
    assert.match(hash.password_hash, /^\$2[aby]\$04\$/);
  });

  const invalid: { name: string; body: unknown; code: string }[] = [
    { name: 'missing hostname', body: { password: 'a-long-password' }, code: 'hostname_required' },
    {
      name: 'dots',
      body: { hostname: 'a.b', password: 'a-long-password' },
      code: 'hostname_invalid_characters',
    },
    {
      name: 'underscore',
      body: { hostname: 'a_b', password: 'a-long-password' },
      code: 'hostname_invalid_characters',
    },
    {
      name: 'leading hyphen',
      body: { hostname: '-ab', password: 'a-long-password' },
      code: 'hostname_hyphen_edge',
    },
    {
      name: 'trailing hyphen',
      body: { hostname: 'ab-', password: 'a-long-password' },
      code: 'hostname_hyphen_edge',
    },
    {
      name: '64 characters',
      body: { hostname: 'a'.repeat(64), password: 'a-long-password' },
      code: 'hostname_too_long',
    },
    { name: 'reserved', body: { hostname: 'www', password: 'a-long-password' }, code: 'hostname_reserved' },
    {
      name: 'reserved ns1',
      body: { hostname: 'NS1', password: 'a-long-password' },
      code: 'hostname_reserved',
    },
    { name: 'empty', body: { hostname: '', password: 'a-long-password' }, code: 'hostname_empty' },
    { name: 'short password', body: { hostname: 'shorty', password: 'seven77' }, code: 'password_too_short' },
    { name: 'no password', body: { hostname: 'nopass' }, code: 'password_required' },
    {
      name: 'password over 72 bytes',
      body: { hostname: 'longpw', password: 'é'.repeat(37) },
      code: 'password_too_long',
    },
    {
      name: 'bad e-mail',
      body: { hostname: 'mailer', password: 'a-long-password', email: 'not-an-address' },
      code: 'invalid_email',
    },
  ];
  for (const row of invalid) {
    test(`400 ${row.code}: ${row.name}`, async () => {
      const reply = await register(mydns, row.body);
      assert.equal(reply.status, 400);
      assert.equal(reply.json.error?.code, row.code);
      assert.equal(typeof reply.json.error?.message, 'string');
    });
  }

  test('400 for a body that is not JSON, as JSON', async () => {
    const reply = await register(mydns, undefined, '{"hostname": ');
    assert.equal(reply.status, 400);
    assert.equal(reply.json.error?.code, 'bad_request');
  });

  test('409 for a taken name, in any case', async () => {
    assert.equal((await register(mydns, { hostname: 'taken', password: 'a-long-password' })).status, 201);
    const again = await register(mydns, { hostname: `TAKEN.${mydns.zone}`, password: 'another-password' });
    assert.equal(again.status, 409);
    assert.equal(again.json.error?.code, 'hostname_taken');
  });

  test('unknown paths are JSON 404s', async () => {
    const reply = await mydns.request('/api/v1/nothing');
    assert.equal(reply.status, 404);
    assert.equal(JSON.parse(reply.body).error.code, 'not_found');
    assert.equal(reply.headers.get('x-powered-by'), null);
  });
});

describe('GET /api/v1/hosts/{name}', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns();
  });
  after(async () => {
    await mydns?.stop();
  });

  test('with the host password: the host, with its addresses after an update', async () => {
    await mydns.createHost('viewer', 'a-viewing-secret');
    await mydns.createHost('other', 'a-second-secret');
    await mydns.request('/nic/update?hostname=viewer&myip=198.51.100.80', {
      auth: ['viewer', 'a-viewing-secret'],
    });
    const reply = await mydns.request('/api/v1/hosts/viewer', {
      auth: [`viewer.${mydns.zone}`, 'a-viewing-secret'],
    });
    assert.equal(reply.status, 200);
    const host = JSON.parse(reply.body);
    assert.equal(host.hostname, `viewer.${mydns.zone}`);
    assert.equal(host.ipv4, '198.51.100.80');
    assert.equal(host.ipv6, null);
    assert.ok(Date.parse(host.updatedAt) > 0);
    assert.ok(Date.parse(host.lastSeenAt) > 0);

    const noAuth = await mydns.request('/api/v1/hosts/viewer');
    assert.equal(noAuth.status, 401);
    assert.match(noAuth.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal(JSON.parse(noAuth.body).error.code, 'unauthorized');
    const wrong = await mydns.request('/api/v1/hosts/viewer', { auth: ['viewer', 'wrong-password'] });
    assert.equal(wrong.status, 401);
    const foreign = await mydns.request('/api/v1/hosts/other', { auth: ['viewer', 'a-viewing-secret'] });
    assert.equal(foreign.status, 403);
  });
});

describe('closed registration and the per-address registration limit', () => {
  let closed: TestMyDns;
  let limited: TestMyDns;
  before(async () => {
    closed = await startTestMyDns({ env: { MYDNS_REGISTRATION: 'closed' } });
    limited = await startTestMyDns({ env: { MYDNS_REGISTRATION_LIMIT: '2/1h' } });
  });
  after(async () => {
    await closed?.stop();
    await limited?.stop();
  });

  test('403 registration_closed', async () => {
    const reply = await register(closed, { hostname: 'late', password: 'a-long-password' });
    assert.equal(reply.status, 403);
    assert.equal(reply.json.error?.code, 'registration_closed');
  });

  test('429 after the limit', async () => {
    assert.equal((await register(limited, { hostname: 'first', password: 'a-long-password' })).status, 201);
    assert.equal((await register(limited, { hostname: 'second', password: 'a-long-password' })).status, 201);
    const third = await register(limited, { hostname: 'third', password: 'a-long-password' });
    assert.equal(third.status, 429);
    assert.equal(third.json.error?.code, 'too_many_requests');
  });
});
