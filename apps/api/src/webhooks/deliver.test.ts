import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { postWebhook } from './deliver.ts';

/** Loopback receivers, each answering with `handle`; what they were sent is kept. */
const servers: ReturnType<typeof createServer>[] = [];
async function receiver(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: { host: string | undefined; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      seen.push({ host: req.headers.host, body });
      handle(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen };
}
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const OPTIONS = { timeoutMs: 2_000, maxResponseBytes: 1_024 };
const post = (port: number, options = OPTIONS) =>
  // A name nobody resolves: the connection goes to the address given, the name only in Host.
  postWebhook(
    {
      url: new URL(`http://hooks.invalid:${port}/in?key=k`),
      address: '127.0.0.1',
      headers: { 'x-mydns-event': 'dormant' },
      body: '{"event":"dormant"}',
    },
    options,
  );

describe('postWebhook', () => {
  test('connects to the checked address, with the URL host in Host; a 2xx is delivered', async () => {
    const target = await receiver((_req, res) => res.writeHead(202).end('thanks'));
    assert.deepEqual(await post(target.port), { ok: true, httpStatus: 202 });
    assert.deepEqual(target.seen, [{ host: `hooks.invalid:${target.port}`, body: '{"event":"dormant"}' }]);
  });

  test('a redirect is a failure and is not followed', async () => {
    const inside = await receiver((_req, res) => res.writeHead(204).end());
    const target = await receiver((_req, res) =>
      res.writeHead(307, { location: `http://127.0.0.1:${inside.port}/` }).end(),
    );
    assert.deepEqual(await post(target.port), {
      ok: false,
      httpStatus: 307,
      error: 'redirect (307), not followed',
    });
    assert.equal(inside.seen.length, 0);
  });

  test('an endless answer is read no further than the cap', async () => {
    const target = await receiver((_req, res) => {
      res.writeHead(500);
      // Never ends: only the cap finishes the attempt.
      res.write('x'.repeat(4_096));
    });
    assert.deepEqual(await post(target.port), { ok: false, httpStatus: 500, error: 'HTTP 500' });
  });

  test('a receiver that never answers is cut at the timeout', async () => {
    const target = await receiver(() => undefined);
    const outcome = await post(target.port, { ...OPTIONS, timeoutMs: 100 });
    assert.deepEqual(outcome, { ok: false, httpStatus: null, error: 'no answer within 100 ms' });
  });
});
