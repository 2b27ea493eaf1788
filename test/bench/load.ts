import { Agent, request } from 'node:http';

/**
 * A small closed-loop HTTP load generator: `concurrency` keep-alive
 * connections, each sending its next request when the previous reply is in,
 * until `total` requests are done or `maxMs` passed (bounded either way).
 */
export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly statuses: Record<string, number>;
  readonly bodies: Record<string, number>;
}

export interface LoadOptions {
  port: number;
  concurrency: number;
  total: number;
  maxMs: number;
  /** The i-th request's path and headers. */
  next: (i: number) => { path: string; headers?: Record<string, string> };
  /** Reduces a body to a bucket name for the summary (e.g. its first word). */
  classify?: (body: string) => string;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const statuses: Record<string, number> = {};
  const bodies: Record<string, number> = {};
  const classify = options.classify ?? ((body: string) => body.split(/[\s\n]/)[0] ?? '');
  let issued = 0;
  let done = 0;
  const started = performance.now();
  const deadline = started + options.maxMs;

  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const { path, headers } = options.next(i);
      const req = request({ host: '127.0.0.1', port: options.port, path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const status = String(res.statusCode);
          statuses[status] = (statuses[status] ?? 0) + 1;
          const bucket = classify(Buffer.concat(chunks).toString());
          bodies[bucket] = (bodies[bucket] ?? 0) + 1;
          done++;
          resolve();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

  const worker = async () => {
    while (issued < options.total && performance.now() < deadline) {
      await one(issued++);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests: done, seconds, perSecond: done / seconds, statuses, bodies };
}
