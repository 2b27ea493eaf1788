import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { harness } from '../support/harness.ts';
import { REPO_ROOT, type StartedMyDns, startMyDnsProcess, waitForOutput } from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';
import { requireProgram, runProgram } from '../support/programs.ts';
import { noteSecret } from '../support/secrets.ts';

/**
 * README's quick start, run as written: `npm start` with no settings but its
 * ports and data folder (free ones, so the test cannot clash with anything),
 * then the shell block's commands exactly as the README shows them, with only
 * the port numbers swapped. It must end with dig answering the new address —
 * the update comes from 127.0.0.1, which a public deployment refuses, and the
 * loopback-only listener of `npm start` allows (lab mode).
 */

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The commands of the quick start's shell block (comments dropped, continuations joined). */
function quickStartCommands(): string[] {
  const section = readme.slice(
    readme.indexOf('## Quick start'),
    readme.indexOf('\n## ', readme.indexOf('## Quick start') + 5),
  );
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  const block = blocks.find((text) => text.includes('/nic/update'));
  assert.ok(block, 'the quick start has a shell block that updates a host');
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

let started: StartedMyDns | undefined;
let dataDir: string;
let ports: { http: number; dns: number };
let env: NodeJS.ProcessEnv;

before(async () => {
  requireProgram('dig', 'bind9-dnsutils');
  dataDir = mkdtempSync(join(harness().workDir, 'quick-start-'));
  chmodSync(dataDir, 0o755);
  ports = { http: await freePort(), dns: await freePort() };
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // Nothing else is set: what a newcomer gets.
    MYDNS_DATA_DIR: dataDir,
    MYDNS_HTTP_PORT: String(ports.http),
    MYDNS_DNS_PORT: String(ports.dns),
    MYDNS_PDNS_API_PORT: String(await freePort()),
    MYDNS_SMTP_PORT: String(await freePort()),
  };
});
after(async () => {
  await started?.stop({ signal: 'SIGINT', timeoutMs: 30_000 });
  rmSync(dataDir, { recursive: true, force: true });
});

test("README's quick start, as written, ends with dig answering the new address", async () => {
  const commands = quickStartCommands().map((command) =>
    command.replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.http}`).replace('-p 5300', `-p ${ports.dns}`),
  );
  assert.deepEqual(
    commands.map((command) => command.split(' ')[0]),
    ['curl', 'curl', 'dig'],
    'register, update, ask PowerDNS',
  );
  const password = /"password":"([^"]+)"/.exec(commands[0] ?? '')?.[1];
  noteSecret(password);
  started = startMyDnsProcess(env, 'npm');
  await waitForOutput(started, /ready: try http/, 120_000);
  assert.match(started.output(), /lab mode/);

  const outputs: string[] = [];
  for (const command of commands) {
    const result = await runProgram('/bin/sh', ['-c', command], {
      env,
      timeoutMs: 30_000,
      mustSucceed: true,
    });
    outputs.push(result.stdout.trim());
  }
  const [registered, updated, answer] = outputs;
  assert.match(registered ?? '', /"hostname":"alice\.mydns\.test"/);
  assert.equal(updated, 'good 127.0.0.1');
  assert.match(answer ?? '', /^alice\.mydns\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1$/m, answer);
});
