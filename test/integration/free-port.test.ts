import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../support/ports.ts';
import { runProgram } from '../support/programs.ts';

/**
 * test/support/ports.ts: the ports it hands out are outside the kernel's
 * ephemeral range (so no bind(0) and no outgoing connection can take one),
 * and two processes asking at the same time never get the same port.
 */

const root = resolve(import.meta.dirname, '../..');

test('ports come from outside the ephemeral range, each once', async () => {
  const [low = 32768, high = 60999] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  const ports = await Promise.all(Array.from({ length: 100 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, 'no port twice');
  assert.deepEqual(
    ports.filter((port) => port >= low && port <= high),
    [],
    `none in ${low}–${high}`,
  );
});

test('two processes asking at once get disjoint ports', async () => {
  const script = `import { freePort } from './test/support/ports.ts';
const ports = [];
for (let i = 0; i < 150; i++) ports.push(await freePort());
console.log(JSON.stringify(ports));`;
  const take = () =>
    runProgram(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      timeoutMs: 60_000,
      mustSucceed: true,
    });
  const [a, b] = await Promise.all([take(), take()]);
  const first = JSON.parse(a.stdout) as number[];
  const second = JSON.parse(b.stdout) as number[];
  assert.equal(first.length, 150);
  assert.equal(second.length, 150);
  assert.deepEqual(
    first.filter((port) => second.includes(port)),
    [],
  );
});
