/**
 * Updates with account credentials (docs/interfaces.md, "Updates with account
 * credentials") against the real Postgres and PowerDNS, and the real Debian
 * clients: username = the account's address (or a token alone as the secret),
 * `hostname=` listing hosts of the account in two zones, one reply line each,
 * `nohost` for a name the credential does not cover. Checked three ways: the
 * reply, PowerDNS, a DNS answer. ddclient 3.10 and inadyn 2.10 are run against
 * a mixed `good`/`nochg` reply for two hosts, to see what each makes of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { type RunResult, requireProgram, runProgram } from '../support/programs.ts';
import { noteSecret } from '../support/secrets.ts';

const zoneA = uniqueZone();
const zoneB = uniqueZone();
let mydns: TestMyDns;
let workDir: string;

before(async () => {
  mydns = await startTestMyDns({ env: { MYDNS_ZONES: `${zoneA},${zoneB}` } });
  workDir = mkdtempSync(join(harness().workDir, 'account-updates-'));
});
after(async () => {
  await mydns?.stop();
});

type Auth = [string, string];
const post = (path: string, body: unknown, auth: Auth) =>
  mydns.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    auth,
  });

/** An account (unverified: mail is off here) holding `labels`, each `[label, zone]`. */
async function account(
  hosts: readonly (readonly [string, string])[],
): Promise<{ email: string; password: string; auth: Auth }> {
  const email = `u-${randomBytes(4).toString('hex')}@example.org`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(email);
  noteSecret(password);
  const created = await mydns.request('/api/v1/accounts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(created.status, 201, created.body);
  const auth: Auth = [email, password];
  for (const [hostname, zone] of hosts) {
    const added = await post('/api/v1/account/hosts', { hostname, zone }, auth);
    assert.equal(added.status, 201, added.body);
  }
  return { email, password, auth };
}

async function token(auth: Auth, hosts?: string[]): Promise<string> {
  const made = await post('/api/v1/account/tokens', { label: 'router', ...(hosts ? { hosts } : {}) }, auth);
  assert.equal(made.status, 201, made.body);
  const { token: secret } = JSON.parse(made.body) as { token: string };
  noteSecret(secret);
  return secret;
}

async function expectDns(name: string, zone: string, a: string[]) {
  const rrsets = await mydns.pdns.listRrsets(zone, { name, type: 'A' });
  assert.deepEqual(rrsets.flatMap((r) => r.records).sort(), a, `PowerDNS A of ${name}`);
  assert.deepEqual(await mydns.query.a(name), a, `DNS answer A of ${name}`);
}

const unique = (prefix: string) => `${prefix}${randomBytes(3).toString('hex')}`;

describe('updates with account credentials', () => {
  test('the address and password update hosts in two zones in one request, one line each', async () => {
    const a = unique('a');
    const b = unique('b');
    const { auth } = await account([
      [a, zoneA],
      [b, zoneB],
    ]);
    const both = `hostname=${a}.${zoneA},${b}.${zoneB}`;
    const first = await mydns.request(`/nic/update?${both}&myip=203.0.113.10`, { auth });
    assert.equal(first.status, 200);
    assert.equal(first.body, 'good 203.0.113.10\ngood 203.0.113.10');
    await expectDns(`${a}.${zoneA}`, zoneA, ['203.0.113.10']);
    await expectDns(`${b}.${zoneB}`, zoneB, ['203.0.113.10']);
    // A bare label is the default zone's; one host moved, one not: each line says so.
    const second = await mydns.request(`/nic/update?hostname=${a}&myip=203.0.113.11`, { auth });
    assert.equal(second.body, 'good 203.0.113.11');
    const mixed = await mydns.request(`/nic/update?${both}&myip=203.0.113.11`, { auth });
    assert.equal(mixed.body, 'nochg 203.0.113.11\ngood 203.0.113.11');
    await expectDns(`${b}.${zoneB}`, zoneB, ['203.0.113.11']);
    // The address typed in another case, percent-encoded in the URL as routers do.
    const url = `/nic/update?${both}&myip=203.0.113.11`;
    const upper = await mydns.request(url, { auth: [auth[0].toUpperCase(), auth[1]] });
    assert.equal(upper.body, 'nochg 203.0.113.11\nnochg 203.0.113.11');
    const curl = await runProgram(
      requireProgram('curl', 'curl'),
      [
        '-sS',
        `http://${encodeURIComponent(auth[0])}:${encodeURIComponent(auth[1])}@127.0.0.1:${mydns.port}${url}`,
      ],
      { timeoutMs: 20_000 },
    );
    assert.equal(curl.stdout, 'nochg 203.0.113.11\nnochg 203.0.113.11');
    // Each host's history has its own line.
    const history = await mydns.request(`/api/v1/hosts/${b}.${zoneB}/history`, { auth });
    assert.deepEqual(
      JSON.parse(history.body)
        .history.map((h: { result: string }) => h.result)
        .slice(0, 3),
      ['nochg', 'nochg', 'good'],
    );
  });

  test('names the credential does not cover answer nohost; the others are updated', async () => {
    const mine = unique('m');
    const { auth } = await account([[mine, zoneA]]);
    const theirs = unique('t');
    await account([[theirs, zoneB]]);
    const seed = unique('s');
    await mydns.createHost(seed, 'seed-host-password-1');
    const reply = await mydns.request(
      `/nic/update?hostname=${theirs}.${zoneB},${mine},${seed},nothere.${zoneA},example.com&myip=198.51.100.20`,
      { auth },
    );
    assert.equal(reply.body, 'nohost\ngood 198.51.100.20\nnohost\nnohost\nnohost');
    await expectDns(`${theirs}.${zoneB}`, zoneB, []);
    await expectDns(`${seed}.${zoneA}`, zoneA, []);
    await expectDns(`${mine}.${zoneA}`, zoneA, ['198.51.100.20']);
    const wrong = await mydns.request(`/nic/update?hostname=${mine}&myip=198.51.100.21`, {
      auth: [auth[0], `${auth[1]}x`],
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body, 'badauth');
    // A NUL byte in the address (Postgres's text cannot hold one: no account has it) is a wrong
    // login, not a 500 (found by `npm run bench -- fuzz`: "invalid byte sequence for encoding").
    for (const username of [`${auth[0]}\u0000`, `u\u0000@example.org`]) {
      const nul = await mydns.request(`/nic/update?hostname=${mine}&myip=198.51.100.21`, {
        auth: [username, auth[1]],
      });
      assert.deepEqual({ status: nul.status, body: nul.body }, { status: 401, body: 'badauth' });
    }
  });

  test('no hostname: the one host of the account; with two, nohost', async () => {
    const only = unique('o');
    const one = await account([[only, zoneB]]);
    assert.equal(
      (await mydns.request('/nic/update?myip=198.51.100.30', { auth: one.auth })).body,
      'good 198.51.100.30',
    );
    await expectDns(`${only}.${zoneB}`, zoneB, ['198.51.100.30']);
    const two = await account([
      [unique('x'), zoneA],
      [unique('y'), zoneB],
    ]);
    assert.equal((await mydns.request('/nic/update?myip=198.51.100.31', { auth: two.auth })).body, 'nohost');
  });

  test('an account token as the secret: with the address, with a hostname as username, or alone; scoped', async () => {
    const a = unique('ta');
    const b = unique('tb');
    const { email, auth } = await account([
      [a, zoneA],
      [b, zoneB],
    ]);
    const all = await token(auth);
    const onlyA = await token(auth, [`${a}.${zoneA}`]);
    const both = `hostname=${a},${b}.${zoneB}`;
    assert.equal(
      (await mydns.request(`/nic/update?${both}&myip=192.0.2.40`, { auth: [email, all] })).body,
      'good 192.0.2.40\ngood 192.0.2.40',
    );
    assert.equal(
      (await mydns.request(`/nic/update?${both}&myip=192.0.2.41`, { auth: [email, onlyA] })).body,
      'good 192.0.2.41\nnohost',
    );
    await expectDns(`${b}.${zoneB}`, zoneB, ['192.0.2.40']);
    // A router with the hostname in its username field and the token as password.
    assert.equal(
      (
        await mydns.request(`/nic/update?hostname=${b}.${zoneB}&myip=192.0.2.42`, {
          auth: [`${b}.${zoneB}`, all],
        })
      ).body,
      'good 192.0.2.42',
    );
    assert.equal(
      (
        await mydns.request(`/nic/update?hostname=${b}.${zoneB}&myip=192.0.2.43`, {
          auth: [`${b}.${zoneB}`, onlyA],
        })
      ).body,
      'badauth',
    );
    // The token alone, in the simple URL: with a hostname, or none (two hosts: nohost).
    assert.equal(
      (await mydns.request(`/u.php?token=${all}&hostname=${a}&myip=192.0.2.44`)).body,
      'good 192.0.2.44',
    );
    assert.equal((await mydns.request(`/u.php?token=${all}&myip=192.0.2.44`)).body, 'nohost');
    // Another account's token is no key to these hosts.
    const other = await account([[unique('z'), zoneA]]);
    const theirs = await token(other.auth);
    assert.equal(
      (await mydns.request(`/nic/update?hostname=${a}&myip=192.0.2.45`, { auth: [email, theirs] })).body,
      'badauth',
    );
  });

  test("the seed's hostname + password hosts are untouched: a host's own password still updates only itself", async () => {
    const seed = unique('own');
    await mydns.createHost(seed, 'seed-host-password-2');
    const reply = await mydns.request(`/nic/update?hostname=${seed}&myip=192.0.2.50`, {
      auth: [seed, 'seed-host-password-2'],
    });
    assert.equal(reply.body, 'good 192.0.2.50');
    await expectDns(`${seed}.${zoneA}`, zoneA, ['192.0.2.50']);
  });
});

// ---------------------------------------------------------------------------

function caseDir(name: string): string {
  const dir = join(workDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}
function run(command: string, args: string[], cwd: string): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/proxy/i.test(key)) env[key] = value;
  }
  Object.assign(env, { HOME: cwd, LC_ALL: 'C', LANG: 'C' });
  return runProgram(command, args, { cwd, env, timeoutMs: 20_000 });
}

describe('real clients against a mixed good/nochg reply for two hosts of an account', () => {
  test('ddclient 3.10: both hosts in one request, each line read for its own host, exit 0', async () => {
    const a = unique('dda');
    const b = unique('ddb');
    const { email, password, auth } = await account([
      [a, zoneA],
      [b, zoneB],
    ]);
    assert.equal(
      (await mydns.request(`/nic/update?hostname=${a}&myip=203.0.113.90`, { auth })).body,
      'good 203.0.113.90',
    );
    const dir = caseDir('ddclient');
    const conf = join(dir, 'ddclient.conf');
    writePrivate(
      conf,
      [
        'ssl=no',
        'use=ip, ip=203.0.113.90',
        'protocol=dyndns2',
        `server=127.0.0.1:${mydns.port}`,
        `login=${email}`,
        `password='${password}'`,
        `${a}.${zoneA},${b}.${zoneB}`,
        '',
      ].join('\n'),
    );
    const result = await run(
      requireProgram('ddclient', 'ddclient'),
      [
        '-daemon=0',
        '-foreground',
        '-force',
        '-verbose',
        '-noquiet',
        '-file',
        conf,
        '-cache',
        join(dir, 'cache'),
      ],
      dir,
    );
    assert.match(
      result.output,
      /SENDING: +GET \/nic\/update\?system=dyndns&hostname=[^&\s]+,[^&\s]+&myip=203\.0\.113\.90 /,
      result.output,
    );
    // ddclient 3.10 (dyndns2): "nochg" is a warning that the address was already set, "good" a success.
    assert.match(
      result.output,
      new RegExp(`WARNING:\\s+updating ${a}\\.${zoneA}: nochg: No update required`),
      result.output,
    );
    assert.match(
      result.output,
      new RegExp(`SUCCESS:\\s+updating ${b}\\.${zoneB}: good: IP address set to 203\\.0\\.113\\.90`),
      result.output,
    );
    assert.equal(result.code, 0, result.output);
    await expectDns(`${b}.${zoneB}`, zoneB, ['203.0.113.90']);
  });

  test('inadyn 2.10: one request naming both hosts, the two-line reply taken as a success, exit 0', async () => {
    const a = unique('ina');
    const b = unique('inb');
    const { email, password, auth } = await account([
      [a, zoneA],
      [b, zoneB],
    ]);
    assert.equal(
      (await mydns.request(`/nic/update?hostname=${a}&myip=203.0.113.91`, { auth })).body,
      'good 203.0.113.91',
    );
    const dir = caseDir('inadyn');
    const conf = join(dir, 'inadyn.conf');
    writePrivate(
      conf,
      [
        'custom mydns {',
        '    ssl             = false',
        `    username        = "${email}"`,
        `    password        = "${password}"`,
        `    hostname        = "${a}.${zoneA}"`,
        `    ddns-server     = "127.0.0.1:${mydns.port}"`,
        `    ddns-path       = "/nic/update?hostname=%h,${b}.${zoneB}&myip=%i"`,
        '    checkip-command = "echo 203.0.113.91"',
        '}',
        '',
      ].join('\n'),
    );
    const cache = join(dir, 'cache');
    mkdirSync(cache, { mode: 0o700 });
    const result = await run(
      requireProgram('inadyn', 'inadyn'),
      ['-1', '--force', '-n', '-l', 'debug', '-f', conf, `--cache-dir=${cache}`, '--no-pidfile'],
      dir,
    );
    assert.match(result.output, /nochg 203\.0\.113\.91\s+good 203\.0\.113\.91/, result.output);
    assert.equal(result.code, 0, result.output);
    await expectDns(`${b}.${zoneB}`, zoneB, ['203.0.113.91']);
  });
});
