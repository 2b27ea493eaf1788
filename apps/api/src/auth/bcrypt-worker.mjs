// @ts-check
// The bcrypt worker thread (see bcrypt-pool.ts). Plain JavaScript because
// worker threads do not inherit tsx's loader on Node 20.
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

if (!parentPort) throw new Error('bcrypt-worker.mjs runs as a worker thread');
const port = parentPort;

port.on(
  'message',
  (
    /** @type {{ id: number, op: 'compare' | 'hash', secret: string, hash?: string, cost?: number }} */ job,
  ) => {
    try {
      const result =
        job.op === 'compare'
          ? bcrypt.compareSync(job.secret, job.hash ?? '')
          : bcrypt.hashSync(job.secret, job.cost ?? 10);
      port.postMessage({ id: job.id, result });
    } catch (error) {
      port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) });
    }
  },
);
