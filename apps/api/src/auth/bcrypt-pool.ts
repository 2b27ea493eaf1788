import { Worker } from 'node:worker_threads';

/**
 * bcrypt never runs on the event loop (ARCHITECTURE.md step 3): a cost-10
 * compare takes ~50-100 ms of CPU, which would stall every other request.
 * Jobs go to a fixed set of worker threads, one job per thread at a time.
 */
export interface BcryptPool {
  compare(secret: string, hash: string): Promise<boolean>;
  hash(secret: string, cost: number): Promise<string>;
  stats(): { threads: number; busy: number; queued: number };
  close(): Promise<void>;
}

interface Job {
  id: number;
  op: 'compare' | 'hash';
  secret: string;
  hash?: string;
  cost?: number;
  resolve: (value: boolean | string) => void;
  reject: (error: Error) => void;
}

export function createBcryptPool(threads: number): BcryptPool {
  const idle: Worker[] = [];
  const running = new Map<Worker, Job>();
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;

  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop() as Worker;
      const job = queue.shift() as Job;
      running.set(worker, job);
      worker.postMessage({ id: job.id, op: job.op, secret: job.secret, hash: job.hash, cost: job.cost });
    }
  };

  const spawnWorker = () => {
    const worker = new Worker(new URL('./bcrypt-worker.mjs', import.meta.url));
    worker.unref();
    worker.on('message', (message: { id: number; result?: boolean | string; error?: string }) => {
      const job = running.get(worker);
      running.delete(worker);
      idle.push(worker);
      if (job) {
        if (message.error !== undefined) job.reject(new Error(message.error));
        else job.resolve(message.result as boolean | string);
      }
      dispatch();
    });
    worker.on('error', (error) => {
      const job = running.get(worker);
      running.delete(worker);
      job?.reject(error);
      if (!closed) spawnWorker();
    });
    idle.push(worker);
  };
  for (let i = 0; i < threads; i++) spawnWorker();

  const submit = <T extends boolean | string>(job: Omit<Job, 'id' | 'resolve' | 'reject'>) =>
    new Promise<T>((resolve, reject) => {
      if (closed) {
        reject(new Error('the bcrypt pool is closed'));
        return;
      }
      queue.push({ ...job, id: nextId++, resolve: resolve as (value: boolean | string) => void, reject });
      dispatch();
    });

  return {
    compare: (secret, hash) => submit<boolean>({ op: 'compare', secret, hash }),
    hash: (secret, cost) => submit<string>({ op: 'hash', secret, cost }),
    stats: () => ({ threads, busy: running.size, queued: queue.length }),
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('the bcrypt pool is closed'));
      const workers = [...idle, ...running.keys()];
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
