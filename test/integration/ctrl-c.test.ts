import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { harness } from '../support/harness.ts';
import {
  describePids,
  isRunning,
  killAll,
  managedPids,
  processGroup,
  type StartedMyDns,
  startMyDnsProcess,
  waitForOutput,
  waitUntil,
} from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';

/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group
 * (npm, its shell, node), and npm passes it on to its child once more: MyDNS
 * sees the same Ctrl-C two or three times within milliseconds. That is one
 * stop request, and it stops everything cleanly. A real second Ctrl-C, later,
 * forces the exit, and even then, like a SIGKILL of MyDNS itself, leaves no
 * Postgres or pdns_server behind.
 */

const ROUNDS = 20;

async function exitWithin(started: StartedMyDns, timeoutMs: number, what: string): Promise<void> {
  const timer = sleep(timeoutMs, 'timeout' as const, { ref: false });
  if ((await Promise.race([started.exited, timer])) === 'timeout') {
    assert.fail(`${what}: npm start did not exit within ${timeoutMs} ms:\n${started.output()}`);
  }
}

/** Every process of the npm group, and the Postgres and pdns_server it ran, still running. */
function leftovers(started: StartedMyDns, pids: { postgres?: number; pdns?: number }): number[] {
  return [...processGroup(started.pid), ...[pids.postgres, pids.pdns].filter(isRunning)] as number[];
}

describe('Ctrl-C stops everything', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let httpPort: number;
  const seen: (number | undefined)[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(harness().workDir, 'ctrl-c-'));
    chmodSync(dataDir, 0o755);
    httpPort = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MYDNS_DATA_DIR: dataDir,
      MYDNS_ZONE: 'ctrl-c.test',
      MYDNS_HTTP_PORT: String(httpPort),
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      MYDNS_DNS_PORT: String(await freePort()),
      MYDNS_PDNS_API_PORT: String(await freePort()),
      MYDNS_SMTP_PORT: String(await freePort()),
      MYDNS_SMTP_ADDRESS: '127.0.0.1',
      MYDNS_BCRYPT_THREADS: '1',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
    };
  });

  after(() => {
    killAll(seen);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const startAndWait = async (
    via: 'npm' | 'node',
  ): Promise<{ started: StartedMyDns; pids: { postgres?: number; pdns?: number } }> => {
    const started = startMyDnsProcess(env, via);
    seen.push(started.pid);
    await waitForOutput(started, /ready: try http/);
    const pids = managedPids(dataDir);
    seen.push(pids.postgres, pids.pdns);
    assert.ok(isRunning(pids.postgres), 'Postgres runs');
    assert.ok(isRunning(pids.pdns), 'pdns_server runs');
    return { started, pids };
  };

  const cleanUp = (started: StartedMyDns, pids: { postgres?: number; pdns?: number }) => {
    if (processGroup(started.pid).length > 0) process.kill(-started.pid, 'SIGKILL');
    killAll([pids.postgres, pids.pdns]);
  };

  test(`${ROUNDS} rounds of npm start, then Ctrl-C as a terminal sends it: nothing is left running`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const { started, pids } = await startAndWait('npm');
      try {
        // Ctrl-C reaches the whole group; a quick second one is the same stop request.
        process.kill(-started.pid, 'SIGINT');
        process.kill(-started.pid, 'SIGINT');
        await exitWithin(started, 60_000, `round ${round}`);
        const left = leftovers(started, pids);
        assert.deepEqual(
          left,
          [],
          `round ${round}: still running:\n${describePids(left)}\n${started.output()}`,
        );
        assert.doesNotMatch(started.output(), /without waiting/, `round ${round}`);
      } finally {
        cleanUp(started, pids);
      }
    }
  });

  test('a second Ctrl-C after a few seconds forces the exit, and still leaves nothing running', async () => {
    const { started, pids } = await startAndWait('npm');
    // A client in the middle of sending its request holds the HTTP server's stop (10 s grace).
    const client = connect(httpPort, '127.0.0.1');
    client.on('error', () => undefined);
    let heard = '';
    client.on('data', (chunk: Buffer) => {
      heard += chunk.toString('latin1');
    });
    // `Expect: 100-continue`: the server answers "100 Continue" once it has parsed the
    // headers, so the request is known to be in flight before the Ctrl-C (under load,
    // a Ctrl-C sent right after the write can reach the server first).
    client.write(
      'POST /api/v1/hosts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n',
    );
    await waitUntil('the server to take the request (100 Continue)', () => heard.startsWith('HTTP/1.1 100'));
    client.write('{"host');
    try {
      process.kill(-started.pid, 'SIGINT');
      process.kill(-started.pid, 'SIGINT');
      await waitForOutput(started, /stopping \(SIGINT\)/);
      // A person who waits, then presses Ctrl-C again: past the window in which it counts as the same one.
      await sleep(3500);
      assert.ok(
        !started.hasExited(),
        `still stopping (the client holds the HTTP server):\n${started.output()}`,
      );
      process.kill(-started.pid, 'SIGINT');
      await exitWithin(started, 10_000, 'forced');
      const left = leftovers(started, pids);
      assert.deepEqual(left, [], `still running:\n${describePids(left)}\n${started.output()}`);
      assert.match(started.output(), /SIGINT again: stopping at once/);
    } finally {
      client.destroy();
      cleanUp(started, pids);
    }
  });

  test('MyDNS killed with SIGKILL: its Postgres and pdns_server stop by themselves', async () => {
    const { started, pids } = await startAndWait('node');
    try {
      process.kill(started.pid, 'SIGKILL');
      await started.exited;
      await waitUntil(
        'Postgres and pdns_server to stop after their parent died',
        () => !isRunning(pids.postgres) && !isRunning(pids.pdns),
      );
    } finally {
      cleanUp(started, pids);
    }
  });
});
