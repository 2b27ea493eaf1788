// @ts-check
// The flood of benchmark 5 (logins.ts), in a thread of its own: 300 replies
// handled on the measuring thread's event loop would delay the very login
// being timed. Plain JavaScript: worker threads do not inherit tsx's loader.
import { request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ port: number, source: string, user: string, count: number, round: number }} */
const job = workerData;

let written = 0;
/** Every request of the flood is written to its socket: the measuring thread sends its login now. */
const wrote = () => {
  written++;
  if (written === job.count) parentPort?.postMessage({ sent: true });
};

/** @param {number} i */
const one = (i) =>
  new Promise((resolve) => {
    const auth = Buffer.from(`${job.user}:wrong-${job.round}-${i}`).toString('base64');
    const req = request(
      {
        host: '127.0.0.1',
        port: job.port,
        path: `/nic/update?hostname=${job.user}`,
        localAddress: job.source,
        agent: false,
        headers: { authorization: `Basic ${auth}` },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('finish', wrote);
    req.setTimeout(120_000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });

const started = performance.now();
const pending = Array.from({ length: job.count }, (_, i) => one(i));
const replies = await Promise.all(pending);
parentPort?.postMessage({
  ms: performance.now() - started,
  checked: replies.filter((r) => r.status === 401).length,
  refused: replies.filter((r) => r.body === 'abuse').length,
});
