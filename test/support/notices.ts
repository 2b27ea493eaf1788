/**
 * What the tests of mailed notices share (address changes, dormancy): an
 * account with a verified address holding one host, requests with its
 * credentials, and the text part of a mail the smarthost read back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { startTestMyDns, type TestMyDns } from './mydns.ts';
import { noteSecret } from './secrets.ts';
import { type Smarthost, type SmarthostMessage, startSmarthost } from './smarthost.ts';

export type Auth = [string, string];
export const NOTICES_PUBLIC_URL = 'https://dyn.example.net';

/**
 * For the whole test file (its before/after hooks): a MyDNS whose mail goes
 * to a real smarthost of its own, links under NOTICES_PUBLIC_URL. The
 * service's own notice passes are kept out of the way
 * (MYDNS_MAINTENANCE_INTERVAL=1h): the tests drive them with their own clock.
 */
export function useMyDnsWithSmarthost(): { readonly mydns: TestMyDns; readonly peer: Smarthost } {
  const stack: { mydns?: TestMyDns; peer?: Smarthost } = {};
  before(async () => {
    stack.peer = await startSmarthost();
    stack.mydns = await startTestMyDns({
      env: {
        MYDNS_MAIL_URL: `smtp://127.0.0.1:${stack.peer.port}`,
        MYDNS_PUBLIC_URL: NOTICES_PUBLIC_URL,
        MYDNS_MAIL_RETRY: '200ms',
        MYDNS_MAINTENANCE_INTERVAL: '1h',
      },
    });
  });
  after(async () => {
    await stack.mydns?.stop();
    await stack.peer?.stop();
  });
  return {
    get mydns() {
      assert.ok(stack.mydns, 'MyDNS is started in before()');
      return stack.mydns;
    },
    get peer() {
      assert.ok(stack.peer, 'the smarthost is started in before()');
      return stack.peer;
    },
  };
}

/** A JSON request with Basic credentials. */
export const sendJson = (mydns: TestMyDns, path: string, method: string, body: unknown, auth: Auth) =>
  mydns.request(path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    auth,
  });

export async function verifiedAccountWithHost(
  mydns: TestMyDns,
): Promise<{ email: string; auth: Auth; hostname: string }> {
  const email = `n-${randomBytes(4).toString('hex')}@example.org`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(email);
  noteSecret(password);
  const auth: Auth = [email, password];
  assert.equal((await sendJson(mydns, '/api/v1/accounts', 'POST', { email, password }, auth)).status, 201);
  await mydns.db('accounts').where({ email }).update({ email_verified_at: new Date() });
  const added = await sendJson(
    mydns,
    '/api/v1/account/hosts',
    'POST',
    { hostname: `n${randomBytes(3).toString('hex')}` },
    auth,
  );
  assert.equal(added.status, 201, added.body);
  return { email, auth, hostname: JSON.parse(added.body).hostname as string };
}

export const partOf = (message: SmarthostMessage | undefined, type: 'text/plain' | 'text/html') =>
  message?.parts.find((p) => p.type === type)?.content ?? '';
export const textOf = (message: SmarthostMessage | undefined) => partOf(message, 'text/plain');
