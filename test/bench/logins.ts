import { request } from 'node:http';
import { Worker } from 'node:worker_threads';

/**
 * Benchmark 5 (issue "Safe to run in public"): a legitimate cold login — a
 * host whose password this process has not verified yet, so bcrypt runs —
 * while 300 wrong passwords arrive at once from one address, against the same
 * kind of login with nothing else going on, in the same run. The sources are
 * real TCP sources: the flood from 127.0.1.<round>, the legitimate router from
 * 127.0.0.3. Every round uses a fresh flood source (a blocked one would cost
 * nothing) and a fresh host (a cached one would need no bcrypt). Bounded:
 * `rounds` rounds of one flood and one login each.
 */

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

function get(port: number, source: string, path: string, user: string, password: string): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        localAddress: source,
        agent: false,
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error('no answer within 120 s')));
    req.on('error', reject);
    req.end();
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export interface LoginFloodResult {
  /** Median latency of a cold login with nothing else going on. */
  readonly unloadedMs: number;
  /** Median latency of a cold login sent while a flood of wrong passwords is being answered. */
  readonly floodedMs: number;
  /** Per flood: how many were checked (401) and refused at once (abuse). */
  readonly flood: { readonly checked: number; readonly refused: number };
}

/** Hosts `cold1`…`cold<2×rounds>` and `target` must exist with `password`. */
export async function runLoginFlood(options: {
  port: number;
  password: string;
  rounds: number;
  floodSize: number;
}): Promise<LoginFloodResult> {
  const cold = (i: number) => `/nic/update?hostname=cold${i}&myip=10.77.${i >> 8}.${i & 255}`;
  const login = async (i: number) => {
    const reply = await get(options.port, '127.0.0.3', cold(i), `cold${i}`, options.password);
    if (!reply.body.startsWith('good')) throw new Error(`cold login ${i}: ${reply.status} ${reply.body}`);
    return reply.ms;
  };
  const unloaded: number[] = [];
  const flooded: number[] = [];
  let checked = 0;
  let refused = 0;
  for (let round = 1; round <= options.rounds; round++) {
    unloaded.push(await login(round));
    // The flood first (from a thread of its own), then the legitimate login while it is being answered.
    const flood = new Worker(new URL('./flood-worker.mjs', import.meta.url), {
      workerData: {
        port: options.port,
        source: `127.0.1.${round}`,
        user: 'target',
        count: options.floodSize,
        round,
      },
    });
    let sent: () => void = () => undefined;
    const onItsWay = new Promise<void>((resolve) => {
      sent = resolve;
    });
    const counted = new Promise<{ checked: number; refused: number }>((resolve, reject) => {
      flood.on('message', (message: { sent?: boolean; checked: number; refused: number }) => {
        if (message.sent) sent();
        else resolve(message);
      });
      flood.once('error', reject);
    });
    await onItsWay;
    flooded.push(await login(options.rounds + round));
    const counts = await counted;
    if (process.env.BENCH_LOG)
      console.error(`flood ${round}: ${JSON.stringify(counts)}, login ${flooded.at(-1)?.toFixed(0)} ms`);
    await flood.terminate();
    checked += counts.checked;
    refused += counts.refused;
  }
  return {
    unloadedMs: median(unloaded),
    floodedMs: median(flooded),
    flood: { checked: checked / options.rounds, refused: refused / options.rounds },
  };
}
