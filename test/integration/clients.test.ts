import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { type RunResult, requireProgram, runProgram } from '../support/programs.ts';

/**
 * The real Debian client programs (ddclient 3.10, inadyn 2.10, GNU wget, curl)
 * against a running API, with the configs and command lines verified in
 * docs/protocol.md, "What real clients send". Each case checks what the client reports
 * (exit code, output) and what DNS answers afterwards. A missing program is a
 * failure naming the Debian package, never a skip.
 */

let mydns: TestMyDns;
let workDir: string;
const PASSWORD = 'client-test-secret-42';
const CLIENT_TIMEOUT_MS = 20_000;

before(async () => {
  mydns = await startTestMyDns();
  workDir = mkdtempSync(join(process.env.MYDNS_TEST_WORK_DIR ?? tmpdir(), 'clients-'));
});
after(async () => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await mydns?.stop();
});

/** `<label>.<zone>` */
function fqdn(label: string): string {
  return `${label}.${mydns.zone}`;
}

async function expectDns(label: string, a: string[], aaaa: string[] = []) {
  const name = fqdn(label);
  assert.deepEqual(await mydns.records(label, 'A'), a, `PowerDNS A of ${name}`);
  assert.deepEqual(await mydns.records(label, 'AAAA'), aaaa, `PowerDNS AAAA of ${name}`);
  assert.deepEqual(await mydns.query.a(name), a, `DNS answer A of ${name}`);
  assert.deepEqual(await mydns.query.aaaa(name), aaaa, `DNS answer AAAA of ${name}`);
}

/** A fresh folder for one client run, inside this file's work folder. */
function caseDir(name: string): string {
  const dir = join(workDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * ddclient 3.10 opens an IPv6-capable socket whenever `usev6` is set (even to
 * 127.0.0.1) and needs IO::Socket::INET6 for it, which Debian only recommends.
 */
async function requirePerlModule(module: string, debianPackage: string): Promise<void> {
  const perl = requireProgram('perl', 'perl');
  const result = await run(perl, [`-M${module}`, '-e', '1'], { cwd: workDir });
  assert.equal(
    result.code,
    0,
    `the Perl module ${module} is missing (ddclient needs it here). Install the Debian package: apt-get install ${debianPackage}\n${result.output}`,
  );
}

/**
 * Runs a client with a clean environment (no proxies, HOME in its own folder
 * so no ~/.wgetrc, ~/.curlrc or ~/.netrc applies) and a deadline of
 * CLIENT_TIMEOUT_MS, which fails the test instead of hanging it.
 */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; onlyEnv?: boolean },
): Promise<RunResult> {
  const env: Record<string, string> = {};
  if (!options.onlyEnv) {
    for (const [key, value] of Object.entries(process.env)) {
      if (value === undefined || /proxy/i.test(key)) continue;
      env[key] = value;
    }
  }
  Object.assign(env, { HOME: options.cwd, LC_ALL: 'C', LANG: 'C' }, options.env);
  return runProgram(command, args, { cwd: options.cwd, env, timeoutMs: CLIENT_TIMEOUT_MS });
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

// ---------------------------------------------------------------------------

describe('ddclient 3.10 (dyndns2, own socket code, HTTP/1.1 Connection: close)', () => {
  async function ddclient(
    name: string,
    settings: { login: string; password: string; use: string; hosts: string[] },
  ): Promise<RunResult> {
    const bin = requireProgram('ddclient', 'ddclient');
    const dir = caseDir(`ddclient-${name}`);
    const conf = join(dir, 'ddclient.conf');
    writePrivate(
      conf,
      [
        'ssl=no',
        settings.use,
        'protocol=dyndns2',
        `server=127.0.0.1:${mydns.port}`,
        `login=${settings.login}`,
        `password='${settings.password}'`,
        settings.hosts.join(','),
        '',
      ].join('\n'),
    );
    return run(
      bin,
      [
        '-daemon=0',
        '-foreground',
        '-force',
        '-verbose',
        '-noquiet',
        '-file',
        conf,
        '-cache',
        join(dir, 'ddclient.cache'),
      ],
      { cwd: dir },
    );
  }

  test('one host, IPv4 from use=ip: exit 0 and the A record is served', async () => {
    await mydns.createHost('ddc4', PASSWORD);
    const result = await ddclient('v4', {
      login: fqdn('ddc4'),
      password: PASSWORD,
      use: 'use=ip, ip=203.0.113.71',
      hosts: [fqdn('ddc4')],
    });
    assert.equal(result.code, 0, result.output);
    assert.match(
      result.output,
      new RegExp(`SUCCESS:\\s+updating ${fqdn('ddc4')}: good: IP address set to 203\\.0\\.113\\.71`),
      result.output,
    );
    await expectDns('ddc4', ['203.0.113.71']);
  });

  test('two hosts in one request, one foreign: the own host is updated, the other fails with nohost, exit 1', async () => {
    await mydns.createHost('ddcown', PASSWORD);
    await mydns.createHost('ddcforeign', 'someone-elses-password');
    const result = await ddclient('multi', {
      login: 'ddcown',
      password: PASSWORD,
      use: 'use=ip, ip=203.0.113.72',
      hosts: [fqdn('ddcown'), fqdn('ddcforeign')],
    });
    assert.equal(result.code, 1, result.output);
    // ddclient groups both hosts into one request and needs exactly one reply line per host, in order.
    assert.match(
      result.output,
      /SENDING: +GET \/nic\/update\?system=dyndns&hostname=[^&\s]+,[^&\s]+&myip=203\.0\.113\.72 /,
      result.output,
    );
    assert.match(result.output, new RegExp(`SUCCESS:\\s+updating ${fqdn('ddcown')}: good`), result.output);
    assert.match(
      result.output,
      new RegExp(`FAILED:\\s+updating ${fqdn('ddcforeign')}: nohost`),
      result.output,
    );
    assert.doesNotMatch(result.output, /unexpected status|<undefined>/, result.output);
    await expectDns('ddcown', ['203.0.113.72']);
    await expectDns('ddcforeign', []);
  });

  test('IPv6 from use=ip: myip carries the raw v6 address, the AAAA record is served', async () => {
    await mydns.createHost('ddc6', PASSWORD);
    const result = await ddclient('v6', {
      login: 'ddc6',
      password: PASSWORD,
      use: 'use=ip, ip=2001:db8::71',
      hosts: [fqdn('ddc6')],
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /SENDING: +GET \S+&myip=2001:db8::71 HTTP\/1\.1/, result.output);
    assert.match(result.output, /SUCCESS:.*good: IP address set to 2001:db8::71/, result.output);
    await expectDns('ddc6', [], ['2001:db8::71']);
  });

  test('usev6 only sends an empty myip=: the TCP peer address (127.0.0.1) is used', async () => {
    await requirePerlModule('IO::Socket::INET6', 'libio-socket-inet6-perl');
    await mydns.createHost('ddcempty', PASSWORD);
    const result = await ddclient('empty-myip', {
      login: fqdn('ddcempty'),
      password: PASSWORD,
      use: 'use=no, usev6=ipv6, ipv6=2001:db8::72',
      hosts: [fqdn('ddcempty')],
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /SENDING: +GET \S+&myip= HTTP\/1\.1/, result.output);
    assert.match(result.output, /SUCCESS:.*good: IP address set to 127\.0\.0\.1/, result.output);
    await expectDns('ddcempty', ['127.0.0.1']);
  });

  test('a wrong password: nonzero exit, "authorization failed", DNS unchanged', async () => {
    await mydns.createHost('ddcwrong', PASSWORD);
    const seed = await mydns.request('/nic/update?hostname=ddcwrong&myip=198.51.100.71', {
      auth: ['ddcwrong', PASSWORD],
    });
    assert.equal(seed.body, 'good 198.51.100.71');
    const result = await ddclient('wrong', {
      login: 'ddcwrong',
      password: 'not-the-password',
      use: 'use=ip, ip=203.0.113.73',
      hosts: [fqdn('ddcwrong')],
    });
    assert.notEqual(result.code, 0, result.output);
    assert.match(result.output, /authorization failed/i, result.output);
    assert.doesNotMatch(result.output, /SUCCESS/, result.output);
    await expectDns('ddcwrong', ['198.51.100.71']);
  });
});

// ---------------------------------------------------------------------------

describe('inadyn 2.10 custom {} (HTTP/1.0, reads to EOF, Host without port)', () => {
  async function inadyn(
    name: string,
    settings: {
      username: string;
      password: string;
      hostname: string;
      ip: string;
      path?: string;
      ipv6?: boolean;
    },
  ): Promise<RunResult> {
    const bin = requireProgram('inadyn', 'inadyn');
    const dir = caseDir(`inadyn-${name}`);
    const conf = join(dir, 'inadyn.conf');
    writePrivate(
      conf,
      [
        settings.ipv6 ? 'allow-ipv6 = true' : '',
        'custom mydns {',
        '    ssl             = false',
        `    username        = "${settings.username}"`,
        `    password        = "${settings.password}"`,
        `    hostname        = "${settings.hostname}"`,
        `    ddns-server     = "127.0.0.1:${mydns.port}"`,
        `    ddns-path       = "${settings.path ?? '/nic/update?hostname=%h&myip=%i'}"`,
        `    checkip-command = "echo ${settings.ip}"`,
        '}',
        '',
      ].join('\n'),
    );
    const cache = join(dir, 'cache');
    mkdirSync(cache, { mode: 0o700 });
    return run(
      bin,
      ['-1', '--force', '-n', '-l', 'debug', '-f', conf, `--cache-dir=${cache}`, '--no-pidfile'],
      { cwd: dir },
    );
  }

  test('IPv4: exit 0 and the A record is served', async () => {
    await mydns.createHost('ina4', PASSWORD);
    const result = await inadyn('v4', {
      username: fqdn('ina4'),
      password: PASSWORD,
      hostname: fqdn('ina4'),
      ip: '203.0.113.81',
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /good 203\.0\.113\.81/, result.output);
    await expectDns('ina4', ['203.0.113.81']);
  });

  test('IPv6 with allow-ipv6: %i arrives percent-encoded, the AAAA record is served', async () => {
    await mydns.createHost('ina6', PASSWORD);
    const result = await inadyn('v6', {
      username: 'ina6',
      password: PASSWORD,
      hostname: fqdn('ina6'),
      ip: '2001:db8::81',
      ipv6: true,
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /myip=2001%3adb8%3a%3a81/i, result.output);
    assert.match(result.output, /good 2001:db8::81/, result.output);
    await expectDns('ina6', [], ['2001:db8::81']);
  });

  test('legacy ddns-path "/nic/update?hostname=": no myip, the TCP peer address is used', async () => {
    await mydns.createHost('inalegacy', PASSWORD);
    const result = await inadyn('legacy', {
      username: 'inalegacy',
      password: PASSWORD,
      hostname: fqdn('inalegacy'),
      ip: '203.0.113.82',
      path: '/nic/update?hostname=',
    });
    assert.equal(result.code, 0, result.output);
    assert.match(
      result.output,
      new RegExp(`GET /nic/update\\?hostname=${fqdn('inalegacy')} HTTP/1\\.0`),
      result.output,
    );
    assert.match(result.output, /good 127\.0\.0\.1/, result.output);
    await expectDns('inalegacy', ['127.0.0.1']);
  });

  test('a wrong password: 401, exit 50 (authentication failure), DNS unchanged', async () => {
    await mydns.createHost('inawrong', PASSWORD);
    const seed = await mydns.request('/nic/update?hostname=inawrong&myip=198.51.100.81', {
      auth: ['inawrong', PASSWORD],
    });
    assert.equal(seed.body, 'good 198.51.100.81');
    const result = await inadyn('wrong', {
      username: 'inawrong',
      password: 'not-the-password',
      hostname: fqdn('inawrong'),
      ip: '203.0.113.83',
    });
    assert.equal(result.code, 50, result.output);
    assert.match(result.output, /HTTP\/1\.1 401 Unauthorized/, result.output);
    assert.match(result.output, /Authentication failure/, result.output);
    await expectDns('inawrong', ['198.51.100.81']);
  });
});

// ---------------------------------------------------------------------------

describe('GNU wget', () => {
  function wget(name: string, args: string[]): Promise<RunResult> {
    const bin = requireProgram('wget', 'wget');
    const dir = caseDir(`wget-${name}`);
    // -S prints every server reply header block on stderr: the 401 round trip is visible.
    return run(bin, ['--no-config', '--tries=1', '--timeout=15', '-S', '-qO-', ...args], { cwd: dir });
  }

  test('credentials in the URL, no --auth-no-challenge: sent only after our 401 challenge, update done', async () => {
    await mydns.createHost('wgetchal', PASSWORD);
    const result = await wget('challenge', [
      `http://wgetchal:${PASSWORD}@127.0.0.1:${mydns.port}/nic/update?hostname=${fqdn('wgetchal')}&myip=203.0.113.91`,
    ]);
    assert.equal(result.code, 0, result.output);
    assert.equal(result.stdout, 'good 203.0.113.91', result.output);
    // First reply: the challenge; second: the update with credentials.
    const statuses = [...result.stderr.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['401', '200'], result.output);
    assert.match(result.stderr, /WWW-Authenticate: Basic realm="MyDNS"/i, result.output);
    await expectDns('wgetchal', ['203.0.113.91']);
  });

  test('--auth-no-challenge: credentials on the first request, one round trip', async () => {
    await mydns.createHost('wgetpre', PASSWORD);
    const result = await wget('preemptive', [
      '--auth-no-challenge',
      `http://${fqdn('wgetpre')}:${PASSWORD}@127.0.0.1:${mydns.port}/nic/update?hostname=${fqdn('wgetpre')}&myip=203.0.113.92`,
    ]);
    assert.equal(result.code, 0, result.output);
    assert.equal(result.stdout, 'good 203.0.113.92', result.output);
    const statuses = [...result.stderr.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200'], result.output);
    await expectDns('wgetpre', ['203.0.113.92']);
  });

  test('the simple URL /u.php?hostname=..&password=..: address from the connection', async () => {
    await mydns.createHost('wgetsimple', PASSWORD);
    const url = `http://127.0.0.1:${mydns.port}/u.php?hostname=${fqdn('wgetsimple')}&password=${PASSWORD}`;
    const first = await wget('simple', [url]);
    assert.equal(first.code, 0, first.output);
    assert.equal(first.stdout, 'good 127.0.0.1', first.output);
    await expectDns('wgetsimple', ['127.0.0.1']);
    const again = await wget('simple', [url]);
    assert.equal(again.code, 0, again.output);
    assert.equal(again.stdout, 'nochg 127.0.0.1', again.output);
    await expectDns('wgetsimple', ['127.0.0.1']);
  });
});

// ---------------------------------------------------------------------------

describe('curl', () => {
  function curl(name: string, args: string[]): Promise<RunResult> {
    const bin = requireProgram('curl', 'curl');
    const dir = caseDir(`curl-${name}`);
    // -q (first) ignores any .curlrc.
    return run(bin, ['-q', '--max-time', '15', ...args], { cwd: dir });
  }

  test('-fsS -u user:pass (preemptive Basic): good, exit 0, A record served', async () => {
    await mydns.createHost('curlgood', PASSWORD);
    const result = await curl('good', [
      '-fsSv',
      '-u',
      `${fqdn('curlgood')}:${PASSWORD}`,
      `http://127.0.0.1:${mydns.port}/nic/update?hostname=${fqdn('curlgood')}&myip=203.0.113.101`,
    ]);
    assert.equal(result.code, 0, result.output);
    assert.equal(result.stdout, 'good 203.0.113.101', result.output);
    // Preemptive: the credentials go with the first and only request.
    assert.match(result.stderr, /^> Authorization: Basic /m, result.output);
    assert.deepEqual(
      [...result.stderr.matchAll(/^< HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]),
      ['200'],
      result.output,
    );
    await expectDns('curlgood', ['203.0.113.101']);
  });

  test('-f with a wrong password: exit 22 (HTTP 401), DNS unchanged', async () => {
    await mydns.createHost('curlwrong', PASSWORD);
    const result = await curl('wrong', [
      '-fsS',
      '-u',
      'curlwrong:not-the-password',
      `http://127.0.0.1:${mydns.port}/nic/update?hostname=${fqdn('curlwrong')}&myip=203.0.113.102`,
    ]);
    assert.equal(result.code, 22, result.output);
    assert.match(result.stderr, /returned error: 401/, result.output);
    await expectDns('curlwrong', []);
  });

  test('the simple URL from a cron-like job (sh -c, minimal environment, output appended to a log)', async () => {
    await mydns.createHost('curlcron', PASSWORD);
    const bin = requireProgram('curl', 'curl');
    const dir = caseDir('curl-cron');
    const log = join(dir, 'ddns.log');
    const url = `http://127.0.0.1:${mydns.port}/u.php?hostname=${fqdn('curlcron')}&password=${PASSWORD}`;
    // What a crontab line `*/5 * * * * curl -fsS '<url>' >> ~/ddns.log 2>&1` runs, with cron's environment.
    const job = `${bin} -q --max-time 15 -fsS '${url}' >> '${log}' 2>&1; code=$?; echo >> '${log}'; exit $code`;
    const result = await run('/bin/sh', ['-c', job], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin', SHELL: '/bin/sh', LOGNAME: userInfo().username },
      onlyEnv: true,
    });
    assert.equal(result.code, 0, result.output);
    assert.equal(readFileSync(log, 'utf8'), 'good 127.0.0.1\n');
    await expectDns('curlcron', ['127.0.0.1']);
  });
});
