import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findRunningManagedPowerDns } from './running-server.ts';

/** The cases where nothing runs; the one where it does is test/integration/cli.test.ts's. */
describe('findRunningManagedPowerDns', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mydns-running-pdns-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const find = () => findRunningManagedPowerDns({ dir, apiPort: 8081 });

  test('a folder where it never ran', () => {
    assert.equal(find(), undefined);
  });

  test('a PID file left by one that is gone', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid ?? 0;
    await new Promise((done) => child.once('exit', done));
    writeFileSync(join(dir, 'pdns_server.pid'), `${pid}\n`);
    writeFileSync(join(dir, 'api-key'), 'a-key\n');
    assert.equal(find(), undefined);
  });

  test("a PID that now belongs to another program, not this folder's pdns_server", () => {
    writeFileSync(join(dir, 'pdns_server.pid'), `${process.pid}\n`);
    writeFileSync(join(dir, 'api-key'), 'a-key\n');
    assert.equal(find(), undefined);
  });

  test('a PID file that is not a PID', () => {
    writeFileSync(join(dir, 'pdns_server.pid'), 'garbage\n');
    assert.equal(find(), undefined);
  });
});
