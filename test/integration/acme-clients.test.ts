import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { argvRecorder, cleanEnv, type RunningPebble, startPebble } from '../support/acme.ts';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { type RunResult, requireProgram, runProgram } from '../support/programs.ts';

/**
 * The ACME DNS-01 hooks (README, "Certificates with ACME DNS-01"), as the programs that run them would:
 * the certbot hook (apps/api/public/acme/mydns-certbot-hook.sh) under sh, the
 * acme.sh hook (dns_mydns.sh) under bash and sh, each against the running API
 * with an update token, checked in real DNS answers; then certbot and Pebble
 * (Debian's ACME test server, validating against the test PowerDNS) issue a
 * real certificate for a host and its wildcard. A missing program fails the
 * test naming its Debian package; nothing is skipped.
 */

const ACME_DIR = resolve(import.meta.dirname, '../../apps/api/public/acme');
const CERTBOT_HOOK = join(ACME_DIR, 'mydns-certbot-hook.sh');
const ACME_SH_HOOK = join(ACME_DIR, 'dns_mydns.sh');
const PASSWORD = 'acme-owner-password';
const HOOK_TIMEOUT_MS = 20_000;
const json = { 'content-type': 'application/json' };
/** Every program the hooks start; each call's argv is recorded. */
const RECORDED = [
  { name: 'curl', debianPackage: 'curl' },
  { name: 'sed', debianPackage: 'sed' },
  { name: 'tail', debianPackage: 'coreutils' },
  { name: 'head', debianPackage: 'coreutils' },
  { name: 'find', debianPackage: 'findutils' },
  { name: 'sleep', debianPackage: 'coreutils' },
];

let mydns: TestMyDns;
let workDir: string;

before(async () => {
  mydns = await startTestMyDns({ env: { MYDNS_HOST_UPDATE_LIMIT: '1000/10m' } });
  workDir = mkdtempSync(join(harness().workDir, 'acme-clients-'));
});
after(async () => {
  await mydns?.stop();
});

const fqdn = (label: string) => `${label}.${mydns.zone}`;
const challenge = (label: string) => `_acme-challenge.${fqdn(label)}`;
/** A value shaped like a real DNS-01 one (base64url SHA-256: 43 characters). */
const dns01 = (seed: string) => `${seed}${'x'.repeat(43)}`.slice(0, 43).replace(/[^A-Za-z0-9_-]/g, '-');

function caseDir(name: string): string {
  const dir = join(workDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A host with an A record and an update token for the hooks. */
async function hostWithToken(label: string, address: string): Promise<string> {
  await mydns.createHost(label, PASSWORD);
  const update = await mydns.request(`/nic/update?hostname=${label}&myip=${address}`, {
    auth: [label, PASSWORD],
  });
  assert.equal(update.body, `good ${address}`);
  const reply = await mydns.request(`/api/v1/hosts/${label}/tokens`, {
    method: 'POST',
    auth: [label, PASSWORD],
    headers: json,
    body: JSON.stringify({ label: 'certbot' }),
  });
  assert.equal(reply.status, 201, reply.body);
  const { token } = JSON.parse(reply.body) as { token: string };
  assert.match(token, /^mydns_[A-Za-z0-9_-]{43}$/);
  return token;
}

/** The TXT answer, and that the host's own A record still answers (rectify is off). */
async function expectDns(label: string, txt: string[], address: string): Promise<void> {
  assert.deepEqual(await mydns.query.txt(challenge(label)), [...txt].sort(), `TXT of ${challenge(label)}`);
  assert.deepEqual(await mydns.query.a(fqdn(label)), [address], `A of ${fqdn(label)}`);
}

function assertNeverOnCommandLine(calls: string[][], secret: string, expectedCurlCalls: number): void {
  const curls = calls.filter((argv) => argv[0]?.endsWith('/curl'));
  assert.equal(curls.length, expectedCurlCalls, `curl calls recorded: ${JSON.stringify(calls)}`);
  for (const argv of calls) {
    assert.ok(!argv.some((arg) => arg.includes(secret)), `the token is on a command line: ${argv.join(' ')}`);
  }
}

function ok(result: RunResult): void {
  assert.equal(result.code, 0, result.output);
}

function failed(result: RunResult, message: RegExp): void {
  assert.notEqual(result.code, 0, result.output);
  assert.match(result.stderr, message, result.output);
}

// ---------------------------------------------------------------------------

describe('certbot hook (mydns-certbot-hook.sh under sh)', () => {
  const sh = () => requireProgram('sh', 'dash');

  function hook(
    action: 'auth' | 'cleanup',
    dir: string,
    recorderDir: string,
    env: Record<string, string>,
  ): Promise<RunResult> {
    return runProgram(sh(), [CERTBOT_HOOK, action], {
      cwd: dir,
      env: cleanEnv({
        HOME: dir,
        PATH: `${recorderDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        // No /etc/mydns/acme.conf of this machine: an empty file of our own.
        MYDNS_CONFIG: join(dir, 'none.conf'),
        ...env,
      }),
      timeoutMs: HOOK_TIMEOUT_MS,
    });
  }

  test('auth and cleanup with a token: apex + wildcard values coexist, cleanup removes only its own', async () => {
    const address = '198.51.100.41';
    const token = await hostWithToken('certhook', address);
    const dir = caseDir('certbot-hook');
    writeFileSync(join(dir, 'none.conf'), '', { mode: 0o600 });
    const recorder = argvRecorder(caseDir('certbot-hook-path'), RECORDED);
    const base = { MYDNS_URL: mydns.url, MYDNS_TOKEN: token };
    const apex = dns01('apex-certbot');
    const wildcard = dns01('wildcard-certbot');

    await expectDns('certhook', [], address);
    // certbot passes the base name for *.certhook… too, each time with its own value.
    ok(
      await hook('auth', dir, recorder.dir, {
        ...base,
        CERTBOT_DOMAIN: fqdn('certhook'),
        CERTBOT_VALIDATION: apex,
      }),
    );
    await expectDns('certhook', [apex], address);
    ok(
      await hook('auth', dir, recorder.dir, {
        ...base,
        CERTBOT_DOMAIN: fqdn('certhook'),
        CERTBOT_VALIDATION: wildcard,
        CERTBOT_REMAINING_CHALLENGES: '0',
        CERTBOT_ALL_DOMAINS: `${fqdn('certhook')},*.${fqdn('certhook')}`,
      }),
    );
    await expectDns('certhook', [apex, wildcard], address);

    ok(
      await hook('cleanup', dir, recorder.dir, {
        ...base,
        CERTBOT_DOMAIN: fqdn('certhook'),
        CERTBOT_VALIDATION: apex,
        CERTBOT_AUTH_OUTPUT: '',
      }),
    );
    await expectDns('certhook', [wildcard], address);
    ok(
      await hook('cleanup', dir, recorder.dir, {
        ...base,
        CERTBOT_DOMAIN: fqdn('certhook'),
        CERTBOT_VALIDATION: wildcard,
      }),
    );
    await expectDns('certhook', [], address);
    // Cleaning up again (or after the hour's expiry) is not an error.
    const again = await hook('cleanup', dir, recorder.dir, {
      ...base,
      CERTBOT_DOMAIN: fqdn('certhook'),
      CERTBOT_VALIDATION: wildcard,
    });
    ok(again);
    assert.match(again.stderr, /already gone/);

    // MYDNS_HOST: another domain whose _acme-challenge is a CNAME to this host's.
    const aliased = dns01('aliased');
    ok(
      await hook('auth', dir, recorder.dir, {
        ...base,
        MYDNS_HOST: 'certhook',
        MYDNS_SLEEP: '1',
        CERTBOT_DOMAIN: 'www.example.org',
        CERTBOT_VALIDATION: aliased,
      }),
    );
    await expectDns('certhook', [aliased], address);
    assert.ok(
      recorder.calls().some((argv) => argv[0]?.endsWith('/sleep') && argv[1] === '1'),
      'MYDNS_SLEEP waits after adding',
    );
    ok(
      await hook('cleanup', dir, recorder.dir, {
        ...base,
        MYDNS_HOST: 'certhook',
        CERTBOT_DOMAIN: 'www.example.org',
        CERTBOT_VALIDATION: aliased,
      }),
    );
    await expectDns('certhook', [], address);

    assertNeverOnCommandLine(recorder.calls(), token, 7);
  });

  test('a wrong token, or none, fails loudly and changes nothing', async () => {
    const address = '198.51.100.42';
    const token = await hostWithToken('certdeny', address);
    const dir = caseDir('certbot-deny');
    writeFileSync(join(dir, 'none.conf'), '', { mode: 0o600 });
    const recorder = argvRecorder(caseDir('certbot-deny-path'), RECORDED);
    const kept = dns01('kept');
    const names = { CERTBOT_DOMAIN: fqdn('certdeny') };
    ok(
      await hook('auth', dir, recorder.dir, {
        MYDNS_URL: mydns.url,
        MYDNS_TOKEN: token,
        ...names,
        CERTBOT_VALIDATION: kept,
      }),
    );
    await expectDns('certdeny', [kept], address);

    const wrong = `mydns_${'A'.repeat(43)}`;
    failed(
      await hook('auth', dir, recorder.dir, {
        MYDNS_URL: mydns.url,
        MYDNS_TOKEN: wrong,
        ...names,
        CERTBOT_VALIDATION: dns01('intruder'),
      }),
      /HTTP 401: wrong hostname or password/,
    );
    failed(
      await hook('cleanup', dir, recorder.dir, {
        MYDNS_URL: mydns.url,
        MYDNS_TOKEN: wrong,
        ...names,
        CERTBOT_VALIDATION: kept,
      }),
      /HTTP 401/,
    );
    // Another host's token is no credential for this one.
    const other = await hostWithToken('certother', '198.51.100.43');
    failed(
      await hook('cleanup', dir, recorder.dir, {
        MYDNS_URL: mydns.url,
        MYDNS_TOKEN: other,
        ...names,
        CERTBOT_VALIDATION: kept,
      }),
      /HTTP 401/,
    );
    failed(
      await hook('auth', dir, recorder.dir, { MYDNS_URL: mydns.url, ...names, CERTBOT_VALIDATION: kept }),
      /MYDNS_TOKEN is not set/,
    );
    failed(
      await hook('auth', dir, recorder.dir, { MYDNS_TOKEN: token, ...names, CERTBOT_VALIDATION: kept }),
      /MYDNS_URL is not set/,
    );
    failed(
      await hook('auth', dir, recorder.dir, { MYDNS_URL: mydns.url, MYDNS_TOKEN: token, ...names }),
      /CERTBOT_VALIDATION is not set/,
    );
    failed(
      await hook('auth', dir, recorder.dir, {
        MYDNS_URL: mydns.url,
        MYDNS_TOKEN: token,
        MYDNS_SLEEP: 'soon',
        ...names,
        CERTBOT_VALIDATION: dns01('sleepy'),
      }),
      /MYDNS_SLEEP must be a whole number/,
    );
    // Nothing listening there: curl's own error, and ours.
    const closed = await freePort();
    failed(
      await hook('auth', dir, recorder.dir, {
        MYDNS_URL: `http://127.0.0.1:${closed}`,
        MYDNS_TOKEN: token,
        ...names,
        CERTBOT_VALIDATION: dns01('nowhere'),
      }),
      new RegExp(`could not reach http://127\\.0\\.0\\.1:${closed}`),
    );
    await expectDns('certdeny', [kept], address);
    assertNeverOnCommandLine(recorder.calls(), token, 5);
    assertNeverOnCommandLine(recorder.calls(), wrong, 5);
  });

  test('settings from the config file: used when private, refused when group- or world-writable', async () => {
    const address = '198.51.100.44';
    const token = await hostWithToken('certconf', address);
    const dir = caseDir('certbot-config');
    const recorder = argvRecorder(caseDir('certbot-config-path'), RECORDED);
    const config = join(dir, 'acme.conf');
    writeFileSync(config, `# MyDNS\nMYDNS_URL='${mydns.url}/'\nMYDNS_TOKEN='${token}'\n`, { mode: 0o600 });
    chmodSync(config, 0o600);
    const value = dns01('from-config');
    const names = { MYDNS_CONFIG: config, CERTBOT_DOMAIN: fqdn('certconf'), CERTBOT_VALIDATION: value };

    chmodSync(config, 0o620);
    failed(await hook('auth', dir, recorder.dir, names), /writable by group or others; run: chmod go-w/);
    chmodSync(config, 0o602);
    failed(await hook('auth', dir, recorder.dir, names), /writable by group or others/);
    chmodSync(config, 0o600);
    if (process.getuid?.() === 0) {
      // As root (CI): a file of another user is refused, however private.
      chownSync(config, 65534, 65534);
      failed(await hook('auth', dir, recorder.dir, names), /belongs to another user/);
      chownSync(config, 0, 0);
    }
    await expectDns('certconf', [], address);

    ok(await hook('auth', dir, recorder.dir, names));
    await expectDns('certconf', [value], address);
    // The environment wins over the file.
    failed(
      await hook('cleanup', dir, recorder.dir, { ...names, MYDNS_TOKEN: `mydns_${'B'.repeat(43)}` }),
      /HTTP 401/,
    );
    await expectDns('certconf', [value], address);
    ok(await hook('cleanup', dir, recorder.dir, names));
    await expectDns('certconf', [], address);

    failed(
      await hook('auth', dir, recorder.dir, { ...names, MYDNS_CONFIG: join(dir, 'missing.conf') }),
      /does not exist/,
    );
    assertNeverOnCommandLine(recorder.calls(), token, 3);
  });
});

// ---------------------------------------------------------------------------

describe('acme.sh hook (dns_mydns.sh)', () => {
  /**
   * What acme.sh offers a dnsapi hook it sources: logging and the account
   * settings store (SAVED_<name>='<value>' lines in account.conf). acme.sh
   * itself is not packaged in Debian, so this stands in for it.
   */
  function acmeShDriver(dir: string): { driver: string; accountConf: string } {
    const accountConf = join(dir, 'account.conf');
    writeFileSync(accountConf, '', { mode: 0o600 });
    const driver = join(dir, 'acme-sh-driver.sh');
    writeFileSync(
      driver,
      [
        '# The functions acme.sh gives its dnsapi hooks, then: <function> <fulldomain> <txtvalue>',
        `ACCOUNT_CONF_PATH='${accountConf}'`,
        '_info() { echo "[info] $*"; }',
        '_err() { echo "[error] $*" >&2; }',
        '_debug() { :; }',
        '_readaccountconf_mutable() {',
        `  sed -n "s/^SAVED_$1='\\(.*\\)'\\$/\\1/p" "$ACCOUNT_CONF_PATH"`,
        '}',
        '_saveaccountconf_mutable() {',
        '  kept=$(while IFS= read -r line; do case $line in "SAVED_$1="*) ;; *) printf "%s\\n" "$line" ;; esac; done < "$ACCOUNT_CONF_PATH")',
        `  { [ -n "$kept" ] && printf "%s\\n" "$kept"; printf "SAVED_%s='%s'\\n" "$1" "$2"; } > "$ACCOUNT_CONF_PATH"`,
        '}',
        `. '${ACME_SH_HOOK}'`,
        '"$@"',
        '',
      ].join('\n'),
    );
    return { driver, accountConf };
  }

  function hookEnv(dir: string, recorderDir: string, env: Record<string, string>): Record<string, string> {
    return cleanEnv({ HOME: dir, PATH: `${recorderDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...env });
  }

  test('under bash as acme.sh runs it: values coexist, rm removes only its own, settings saved for renewals', async () => {
    const bash = requireProgram('bash', 'bash');
    const address = '198.51.100.51';
    const token = await hostWithToken('acmesh', address);
    const dir = caseDir('acme-sh');
    const recorder = argvRecorder(caseDir('acme-sh-path'), RECORDED);
    const download = await mydns.request('/static/acme/dns_mydns.sh');
    assert.equal(download.status, 200, 'the server offers the hook at /static/acme/');
    assert.equal(download.body, readFileSync(ACME_SH_HOOK, 'utf8'));
    const { driver, accountConf } = acmeShDriver(dir);
    const apex = dns01('apex-acme-sh');
    const wildcard = dns01('wildcard-acme-sh');
    const call = (fn: string, value: string, env: Record<string, string>) =>
      runProgram(bash, [driver, fn, challenge('acmesh'), value], {
        cwd: dir,
        env: hookEnv(dir, recorder.dir, env),
        timeoutMs: HOOK_TIMEOUT_MS,
      });

    const first = await call('dns_mydns_add', apex, { MYDNS_URL: mydns.url, MYDNS_TOKEN: token });
    ok(first);
    assert.match(first.stdout, /\[info\] Adding the TXT value at _acme-challenge\./);
    await expectDns('acmesh', [apex], address);
    const saved = readFileSync(accountConf, 'utf8');
    assert.match(saved, new RegExp(`^SAVED_MYDNS_URL='${mydns.url}'$`, 'm'));
    assert.match(saved, new RegExp(`^SAVED_MYDNS_TOKEN='${token}'$`, 'm'));

    // A renewal: nothing in the environment, the settings come from account.conf.
    ok(await call('dns_mydns_add', wildcard, {}));
    await expectDns('acmesh', [apex, wildcard], address);
    ok(await call('dns_mydns_rm', apex, {}));
    await expectDns('acmesh', [wildcard], address);
    ok(await call('dns_mydns_rm', wildcard, {}));
    await expectDns('acmesh', [], address);
    const gone = await call('dns_mydns_rm', wildcard, {});
    ok(gone);
    assert.match(gone.stdout, /already gone/);

    const wrong = `mydns_${'C'.repeat(43)}`;
    const denied = await call('dns_mydns_add', dns01('denied'), { MYDNS_TOKEN: wrong });
    failed(denied, /\[error\] adding the TXT value at _acme-challenge\.\S+ failed: HTTP 401/);
    await expectDns('acmesh', [], address);
    assertNeverOnCommandLine(recorder.calls(), token, 6);
    assertNeverOnCommandLine(recorder.calls(), wrong, 6);
  });

  test('under sh on its own (no acme.sh functions): works with the environment, a wrong token fails and changes nothing', async () => {
    const sh = requireProgram('sh', 'dash');
    const address = '198.51.100.52';
    const token = await hostWithToken('acmeplain', address);
    const dir = caseDir('acme-sh-plain');
    const recorder = argvRecorder(caseDir('acme-sh-plain-path'), RECORDED);
    const value = dns01('plain');
    const call = (fn: string, fulldomain: string, txt: string, env: Record<string, string>) =>
      runProgram(sh, ['-c', `. '${ACME_SH_HOOK}' && ${fn} "$1" "$2"`, 'dns_mydns', fulldomain, txt], {
        cwd: dir,
        env: hookEnv(dir, recorder.dir, env),
        timeoutMs: HOOK_TIMEOUT_MS,
      });
    const settings = { MYDNS_URL: mydns.url, MYDNS_TOKEN: token };

    ok(await call('dns_mydns_add', challenge('acmeplain'), value, settings));
    await expectDns('acmeplain', [value], address);

    const wrong = `mydns_${'D'.repeat(43)}`;
    failed(
      await call('dns_mydns_rm', challenge('acmeplain'), value, { ...settings, MYDNS_TOKEN: wrong }),
      /error: removing the TXT value at _acme-challenge\.\S+ failed: HTTP 401: wrong hostname or password/,
    );
    failed(
      await call('dns_mydns_add', challenge('acmeplain'), dns01('x'), { ...settings, MYDNS_TOKEN: wrong }),
      /HTTP 401/,
    );
    failed(
      await call('dns_mydns_add', fqdn('acmeplain'), dns01('y'), settings),
      /only at _acme-challenge\.<host>/,
    );
    failed(
      await call('dns_mydns_add', challenge('acmeplain'), dns01('z'), { MYDNS_URL: mydns.url }),
      /MYDNS_URL and MYDNS_TOKEN must be set/,
    );
    await expectDns('acmeplain', [value], address);

    ok(await call('dns_mydns_rm', challenge('acmeplain'), value, settings));
    await expectDns('acmeplain', [], address);
    assertNeverOnCommandLine(recorder.calls(), token, 4);
    assertNeverOnCommandLine(recorder.calls(), wrong, 4);
  });
});

// ---------------------------------------------------------------------------

describe('end to end: certbot + Pebble issue a certificate through the hook', () => {
  let pebble: RunningPebble | undefined;

  before(async () => {
    // Pebble resolves the DNS-01 names at the test PowerDNS, so only what MyDNS serves counts.
    pebble = await startPebble({
      dir: caseDir('pebble'),
      dnsServer: `127.0.0.1:${harness().dnsPort}`,
      timeoutMs: 30_000,
    });
  });
  after(async () => {
    await pebble?.stop();
  });

  /**
   * `certbot certonly --manual` with the hook installed as the README says
   * (downloaded from the server, executable, settings in a private config
   * file), against Pebble.
   */
  async function certonly(
    name: string,
    token: string,
    domains: string[],
    env: Record<string, string> = {},
  ): Promise<{ result: RunResult; live: string; context: string; calls: string[][] }> {
    assert.ok(pebble, 'pebble started');
    const certbot = requireProgram('certbot', 'certbot');
    const dir = caseDir(`certbot-${name}`);
    // Downloaded from the server, as the README says.
    const download = await mydns.request('/static/acme/mydns-certbot-hook.sh');
    assert.equal(download.status, 200, 'the server offers the hook at /static/acme/');
    assert.equal(download.body, readFileSync(CERTBOT_HOOK, 'utf8'));
    const hook = join(dir, 'mydns-certbot-hook.sh');
    writeFileSync(hook, download.body);
    chmodSync(hook, 0o755);
    const config = join(dir, 'acme.conf');
    writeFileSync(config, `MYDNS_URL=${mydns.url}\nMYDNS_TOKEN=${token}\n`, { mode: 0o600 });
    chmodSync(config, 0o600);
    const recorder = argvRecorder(caseDir(`certbot-${name}-path`), RECORDED);
    const before = pebble.output().length;
    const result = await runProgram(
      certbot,
      [
        'certonly',
        '--manual',
        '--preferred-challenges',
        'dns',
        '--manual-auth-hook',
        `${hook} auth`,
        '--manual-cleanup-hook',
        `${hook} cleanup`,
        '--server',
        pebble.directory,
        '--config-dir',
        join(dir, 'config'),
        '--work-dir',
        join(dir, 'work'),
        '--logs-dir',
        join(dir, 'logs'),
        '--non-interactive',
        '--agree-tos',
        '--no-eff-email',
        '-m',
        'test@example.org',
        ...domains.flatMap((domain) => ['-d', domain]),
      ],
      {
        cwd: dir,
        env: cleanEnv({
          HOME: dir,
          PATH: `${recorder.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          MYDNS_CONFIG: config,
          REQUESTS_CA_BUNDLE: pebble.caFile,
          ...env,
        }),
        timeoutMs: 150_000,
      },
    );
    const logFile = join(dir, 'logs', 'letsencrypt.log');
    const context = `${result.output}\n--- pebble ---\n${pebble.output().slice(before)}\n--- certbot log (end) ---\n${
      existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '(none)'
    }`;
    return { result, live: join(dir, 'config', 'live', domains[0] ?? ''), context, calls: recorder.calls() };
  }

  test('certbot certonly --manual with the hook gets one certificate for a host and its wildcard (two values at once)', {
    timeout: 180_000,
  }, async () => {
    const address = '198.51.100.61';
    const token = await hostWithToken('e2e', address);
    const name = fqdn('e2e');
    const { result, live, context, calls } = await certonly('e2e', token, [name, `*.${name}`]);
    assert.equal(result.code, 0, context);

    const fullchain = join(live, 'fullchain.pem');
    assert.ok(existsSync(fullchain), `no certificate at ${fullchain}\n${context}`);
    assert.ok(existsSync(join(live, 'privkey.pem')));
    const certificate = new X509Certificate(readFileSync(fullchain));
    assert.deepEqual(
      (certificate.subjectAltName ?? '').split(', ').sort(),
      [`DNS:*.${name}`, `DNS:${name}`].sort(),
    );
    assert.match(certificate.issuer, /Pebble/);
    // Both authorizations (apex and wildcard: two TXT values at one name) were validated.
    assert.equal(pebble?.output().match(/set VALID by completed challenge/g)?.length ?? 0, 2, context);

    // The cleanup hook took both values away; the host still resolves.
    await expectDns('e2e', [], address);
    assertNeverOnCommandLine(calls, token, 4);
  });

  test('with a wrong token the hook fails, Pebble finds no value in DNS, and no certificate is issued', {
    timeout: 180_000,
  }, async () => {
    const address = '198.51.100.62';
    await hostWithToken('e2edeny', address);
    const wrong = `mydns_${'E'.repeat(43)}`;
    const name = fqdn('e2edeny');
    const { result, live, context, calls } = await certonly('e2edeny', wrong, [name]);
    assert.notEqual(result.code, 0, context);
    assert.ok(!existsSync(join(live, 'fullchain.pem')), context);
    // certbot passes on what the hook said on stderr, and what Pebble found in our PowerDNS (NXDOMAIN).
    assert.match(
      result.stderr,
      /mydns-certbot-hook: adding the TXT value at _acme-challenge\.\S+ failed: HTTP 401/,
      context,
    );
    assert.match(result.stdout, /Error retrieving TXT records for DNS challenge/, context);
    await expectDns('e2edeny', [], address);
    assertNeverOnCommandLine(calls, wrong, 2);
  });
});
